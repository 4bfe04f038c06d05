"""Rate limits on the real server (gunicorn, two worker processes, production settings): the
count is shared by the processes through Redis, and a merchant's own rate, set as an operator sets
it in the admin, is what the server applies."""

from concurrent.futures import ThreadPoolExecutor

from merchants.services import api_key_issue
from tests.factories import MerchantFactory


def test_over_the_limit_one_key_gets_429_while_another_merchants_key_goes_through(gunicorn_server):
    limited = MerchantFactory(rate_limit="5/h")
    limited_key = api_key_issue(merchant=limited)
    other_key = api_key_issue(merchant=MerchantFactory())

    def get(key: str):
        with gunicorn_server.client() as client:
            return client.get("/api/v1/payments", headers={"Authorization": f"Bearer {key}"})

    # 12 at once, spread over both worker processes.
    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(get, [limited_key] * 12))

    succeeded = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 429]
    assert len(succeeded) == 5
    assert len(refused) == 7
    for response in succeeded:
        assert response.headers["RateLimit-Policy"] == '"api";q=5;w=3600'
        assert response.headers["RateLimit"].startswith('"api";r=')
    for response in refused:
        assert response.headers["Content-Type"] == "application/problem+json"
        body = response.json()
        assert body["code"] == "rate_limited"
        assert body["status"] == 429
        assert response.headers["RateLimit-Policy"] == '"api";q=5;w=3600'
        reset = int(response.headers["Retry-After"])
        assert 1 <= reset <= 3600
        assert response.headers["RateLimit"] == f'"api";r=0;t={reset}'
    assert sorted(r.headers["RateLimit"].split(";")[1] for r in succeeded) == ["r=0", "r=1", "r=2", "r=3", "r=4"]

    other = get(other_key)
    assert other.status_code == 200
    assert other.headers["RateLimit-Policy"] == '"api";q=1000000;w=1'
