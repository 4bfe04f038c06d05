"""The project's URLs plus plain Django views under /api/, to see what the edge makes of answers
that come from outside DRF."""

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.http import require_POST

from config.urls import urlpatterns as project_urlpatterns


@require_POST
def form_view(request):
    return HttpResponse("ok")


def crashing_view(request):
    raise RuntimeError("a bug outside DRF")


urlpatterns = [
    path("api/test-only/form", form_view),
    path("api/test-only/crash", crashing_view),
    *project_urlpatterns,
]
