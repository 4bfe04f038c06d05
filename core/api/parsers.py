"""The API's JSON parser: DRF's, plus the refusals of core.safejson (a document nested deeper
than we need, NUL characters and lone surrogates), so they are 400s and not 500s later."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from core import safejson


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(f"JSON nested more than {safejson.MAX_NESTING} levels deep.") from exc
        problem = safejson.find_unstorable(data)
        if problem:
            raise ParseError(problem)
        return data
