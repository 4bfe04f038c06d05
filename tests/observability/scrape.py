"""Reading /metrics the way Prometheus does: the exposition text, parsed."""

from prometheus_client.parser import text_string_to_metric_families


def metrics_text(client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200, response.content
    return response.content.decode()


def samples(client) -> dict[tuple[str, frozenset], float]:
    """{(sample name, labels): value} of one scrape."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(metrics_text(client))
        for sample in family.samples
    }


def sample(client, name: str, **labels) -> float | None:
    return samples(client).get((name, frozenset(labels.items())))


def exported_names(text: str) -> set[str]:
    """Every metric name a query may use: the samples' names (`_total`, `_bucket`, ...) and the
    families' (declared with `# TYPE`, even before their first sample)."""
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name)
        if family.type == "counter":
            names.add(f"{family.name}_total")
        names.update(sample.name for sample in family.samples)
    return names
