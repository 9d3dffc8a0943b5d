from fastapi.testclient import TestClient

from phygital.db import make_engine


def test_health_answers_ok_when_the_database_answers(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_health_answers_503_when_the_database_does_not(client: TestClient) -> None:
    client.app.state.engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["status"] != "ok"
