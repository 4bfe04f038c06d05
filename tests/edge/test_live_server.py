"""The live server starts with the production settings and answers."""


def test_the_gunicorn_server_answers_health(gunicorn_server):
    with gunicorn_server.client() as client:
        response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
