"""A small Flask app written for App Engine's bundled Memcache API.

It ran on App Engine with
    from google.appengine.api import memcache, namespace_manager
and runs against mcbridge with only that line changed (the next one). Nothing else here knows
about mcbridge: MCBRIDGE_ADDRESS (and credentials) come from app.yaml's env_variables.
"""

import hashlib
import time

from flask import Flask, abort, jsonify, request

from mcbridge_appengine import memcache, namespace_manager

app = Flask(__name__)

GREETING_TTL = 60
SLOW_CALLS = []  # the "expensive" backend calls made, so tests can see the cache work


@app.before_request
def tenant_namespace():
    """Each tenant gets its own cache namespace, as multi-tenant App Engine apps did."""
    tenant = request.headers.get("X-Tenant", "")
    try:
        namespace_manager.set_namespace(tenant)
    except Exception:
        abort(400, "bad tenant")


def render_greeting(name):
    SLOW_CALLS.append(name)
    time.sleep(0.01)
    return {"text": "Hello, %s!" % name, "digest": hashlib.sha1(name.encode()).hexdigest()}


@app.get("/greeting/<name>")
def greeting(name):
    key = "greeting:" + name
    value = memcache.get(key)
    cached = value is not None
    if not cached:
        value = render_greeting(name)
        memcache.add(key, value, time=GREETING_TTL)
    return jsonify(greeting=value, cached=cached)


@app.delete("/greeting/<name>")
def forget_greeting(name):
    status = memcache.delete("greeting:" + name)
    return jsonify(deleted=status == memcache.DELETE_SUCCESSFUL)


@app.post("/hits/<page>")
def hit(page):
    count = memcache.incr("hits:" + page, initial_value=0)
    return jsonify(page=page, hits=count)


@app.get("/hits")
def hits():
    pages = request.args.getlist("page")
    counts = memcache.get_multi(pages, key_prefix="hits:")
    return jsonify({p: counts.get(p, 0) for p in pages})


@app.post("/hits")
def bulk_hits():
    """{"page": delta, ...} applied in one batch."""
    deltas = request.get_json()
    return jsonify(memcache.offset_multi(deltas, key_prefix="hits:", initial_value=0))


@app.post("/likes/<post>")
def like(post):
    """Read-modify-write with compare-and-set: concurrent likes are never lost."""
    client = memcache.Client()
    key = "likes:" + post
    for _ in range(20):
        likes = client.gets(key)
        if likes is None:
            if memcache.add(key, {"count": 1, "by": [request.remote_addr]}):
                return jsonify(count=1)
            continue
        likes["count"] += 1
        likes["by"] = (likes["by"] + [request.remote_addr])[-10:]
        if client.cas(key, likes):
            return jsonify(count=likes["count"])
    abort(503)


@app.post("/settings")
def save_settings():
    settings = request.get_json()
    failed = memcache.set_multi(settings, key_prefix="setting:", time=3600)
    return jsonify(failed=failed)


@app.get("/settings")
def load_settings():
    names = request.args.getlist("name")
    return jsonify(memcache.get_multi(names, key_prefix="setting:"))
