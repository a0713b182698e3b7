"""The example app's own tests: they need a memcache service at MCBRIDGE_ADDRESS (mcbridge in
CI: tests/clients/test_cli_appengine_example.py runs them) and nothing App Engine specific."""

import threading

import pytest

import main
from mcbridge_appengine import memcache


@pytest.fixture
def client():
    assert memcache.flush_all() is True, "no memcache service at MCBRIDGE_ADDRESS"
    main.SLOW_CALLS.clear()
    main.app.testing = True
    return main.app.test_client()


def test_greeting_is_computed_once_then_cached(client):
    first = client.get("/greeting/ada").get_json()
    second = client.get("/greeting/ada").get_json()
    assert first["cached"] is False and second["cached"] is True
    assert first["greeting"] == second["greeting"] == {
        "text": "Hello, ada!", "digest": first["greeting"]["digest"]}
    assert main.SLOW_CALLS == ["ada"]


def test_delete_invalidates(client):
    client.get("/greeting/bob")
    assert client.delete("/greeting/bob").get_json() == {"deleted": True}
    assert client.delete("/greeting/bob").get_json() == {"deleted": False}
    assert client.get("/greeting/bob").get_json()["cached"] is False
    assert main.SLOW_CALLS == ["bob", "bob"]


def test_tenants_have_separate_caches(client):
    client.get("/greeting/eve", headers={"X-Tenant": "acme"})
    assert client.get("/greeting/eve", headers={"X-Tenant": "acme"}).get_json()["cached"]
    assert not client.get("/greeting/eve", headers={"X-Tenant": "globex"}).get_json()["cached"]
    assert not client.get("/greeting/eve").get_json()["cached"]
    assert client.get("/greeting/x", headers={"X-Tenant": "bad tenant!"}).status_code == 400


def test_hit_counters(client):
    assert [client.post("/hits/home").get_json()["hits"] for _ in range(3)] == [1, 2, 3]
    client.post("/hits/about")
    assert client.get("/hits?page=home&page=about&page=none").get_json() == \
        {"home": 3, "about": 1, "none": 0}
    assert client.post("/hits", json={"home": 10, "about": -5, "new": 2}).get_json() == \
        {"home": 13, "about": 0, "new": 2}


def test_concurrent_likes_are_never_lost(client):
    def like_many():
        c = main.app.test_client()
        for _ in range(10):
            assert c.post("/likes/p1").status_code == 200
    threads = [threading.Thread(target=like_many) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert memcache.get("likes:p1")["count"] == 40


def test_settings_round_trip_with_types(client):
    settings = {"theme": "dark", "size": 12, "beta": True, "tags": ["a", "b"]}
    assert client.post("/settings", json=settings).get_json() == {"failed": []}
    assert client.get("/settings?name=theme&name=size&name=beta&name=tags&name=x") \
        .get_json() == settings
    assert memcache.get("size", namespace="") is None          # the prefix is applied
    assert type(memcache.get("setting:beta")) is bool
