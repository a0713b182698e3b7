"""Clients that authenticate, against mcbridge --auth-file and (to prove the assertions) a
real memcached 1.6.18 -S whose Cyrus sasldb holds the same users: pylibmc binary + SASL (the
configuration of Google's App Engine flexible samples), PHP Memcached (OPT_BINARY_PROTOCOL +
setSaslAuthData), Ruby Dalli and memjs with credentials. Wrong credentials read and write
nothing."""

import os
import shutil
from pathlib import Path

import pylibmc
import pytest

import clienttools
from servers import RawConn

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


@pytest.fixture(scope="module", params=["mcbridge", "memcached"])
def sasl_target(request):
    """(name, port) of a server requiring sasl_servers.USERS (conftest.py's session ones)."""
    return request.param, request.getfixturevalue(f"sasl_{request.param}_srv").port


def pylibmc_client(port, user="appuser", password="s3cret-pass"):
    # As Google's App Engine flexible sample configures it.
    c = pylibmc.Client([f"127.0.0.1:{port}"], binary=True, username=user, password=password)
    c.behaviors = {"tcp_nodelay": True, "ketama": True}
    return c


def test_pylibmc_sasl(sasl_target):
    _, port = sasl_target
    c = pylibmc_client(port)
    assert c.set("greeting", "hello") is True
    assert c.get("greeting") == "hello"
    assert c.set_multi({"a": 1, "b": 2}) == []
    assert c.get_multi(["a", "b", "c"]) == {"a": 1, "b": 2}
    assert c.incr("a", 5) == 6
    assert c.delete("a") is True
    c.disconnect_all()


def test_pylibmc_wrong_password(sasl_target):
    _, port = sasl_target
    good = pylibmc_client(port)
    assert good.set("secret", "kept") is True
    bad = pylibmc_client(port, password="wrong")
    with pytest.raises(pylibmc.Error):
        bad.set("secret", "overwritten")
    with pytest.raises(pylibmc.Error):
        bad.get("secret")
    assert good.get("secret") == "kept"
    good.disconnect_all()
    bad.disconnect_all()


def test_unauthenticated_text_client_is_refused(sasl_target):
    name, port = sasl_target
    c = RawConn(port)
    try:
        c.send(b"get greeting\r\n")
        if name == "mcbridge":
            assert c.read_line() == b"CLIENT_ERROR unauthenticated\r\n"
        else:
            # memcached -S serves only the binary protocol: a text request gets no reply.
            assert c.read_idle(idle=0.3) == b""
    finally:
        c.close()


PHP_SCRIPT = r"""
$m = new Memcached();
$m->setOption(Memcached::OPT_BINARY_PROTOCOL, true);
$m->setOption(Memcached::OPT_COMPRESSION, false);
$m->setSaslAuthData($argv[2], $argv[3]);
$m->addServer('127.0.0.1', (int)$argv[1]);
$out = [];
$out['set'] = $m->set('php:key', 'php value', 100);
$out['get'] = $m->get('php:key');
$out['add_existing'] = $m->add('php:key', 'x');
$out['multi'] = $m->setMulti(['php:a' => 'A', 'php:b' => 'B']);
$out['getmulti'] = $m->getMulti(['php:a', 'php:b', 'php:none']);
$out['incr'] = $m->increment('php:counter', 5, 10);
$out['incr2'] = $m->increment('php:counter', 5);
$out['delete'] = $m->delete('php:a');
$out['result'] = $m->getResultCode();
echo json_encode($out);
"""


def test_php_memcached_binary_sasl(sasl_target):
    php = clienttools.require("php", "php-cli")
    _, port = sasl_target
    out = clienttools.run_json([php, "-r", PHP_SCRIPT, "--", port, "appuser", "s3cret-pass"])
    assert out == {"set": True, "get": "php value", "add_existing": False, "multi": True,
                   "getmulti": {"php:a": "A", "php:b": "B"}, "incr": 10, "incr2": 15,
                   "delete": True, "result": 0}
    out = clienttools.run_json([php, "-r", PHP_SCRIPT, "--", port, "appuser", "nope"])
    assert out["set"] is False and out["get"] is False


RUBY_SCRIPT = r"""
require 'dalli'
require 'json'
port, user, pass = ARGV
opts = {socket_timeout: 2, down_retry_delay: 0, socket_max_failures: 1}
opts[:username] = user unless user.empty?
opts[:password] = pass unless pass.empty?
dc = Dalli::Client.new("127.0.0.1:#{port}", opts)
out = {}
begin
  out['set'] = !!dc.set('rb:key', {'a' => [1, 2]}, 100)
  out['get'] = dc.get('rb:key')
  out['add_existing'] = dc.add('rb:key', 'x')
  dc.set('rb:raw', 'plain', 0, raw: true)
  out['multi'] = dc.get_multi('rb:key', 'rb:raw', 'rb:none')
  out['incr'] = dc.incr('rb:n', 1, nil, 5)
  out['incr2'] = dc.incr('rb:n', 3)
  out['cas'] = !!dc.cas('rb:raw') { |v| v + '!' }
  out['after_cas'] = dc.get('rb:raw', raw: true)
  out['touch'] = !!dc.touch('rb:raw', 100)
  out['delete'] = dc.delete('rb:key')
  out['version'] = dc.version.values.first
rescue => e
  out['error'] = e.class.name
end
puts JSON.generate(out)
"""


def run_ruby(port, user, password):
    ruby = clienttools.require("ruby", "ruby ruby-dalli")
    return clienttools.run_json([ruby, "-e", RUBY_SCRIPT, port, user, password])


def test_dalli_with_credentials(sasl_target):
    _, port = sasl_target
    out = run_ruby(port, "appuser", "s3cret-pass")
    assert out == {"set": True, "get": {"a": [1, 2]}, "add_existing": False,
                   "multi": {"rb:key": {"a": [1, 2]}, "rb:raw": "plain"}, "incr": 5,
                   "incr2": 8, "cas": True, "after_cas": "plain!", "touch": True,
                   "delete": True, "version": "1.6.18"}


def test_dalli_wrong_password(sasl_target):
    _, port = sasl_target
    out = run_ruby(port, "appuser", "wrong")
    assert "error" in out and "get" not in out


def test_dalli_without_credentials(port):
    """Dalli 3.0 (Debian's) speaks the binary protocol; here against the servers without
    authentication (the clients suite's session mcbridge and memcached, emptied first)."""
    out = run_ruby(port, "", "")
    assert out["set"] is True and out["get"] == {"a": [1, 2]} and out["incr2"] == 8
    assert out["after_cas"] == "plain!" and out["version"] == "1.6.18"


NODE_SCRIPT = r"""
const memjs = require('memjs');
const [port, user, pass] = process.argv.slice(1);
const client = memjs.Client.create(`${user}:${pass}@127.0.0.1:${port}`,
                                   {retries: 0, timeout: 2, conntimeout: 2});
(async () => {
  const out = {};
  try {
    out.set = await client.set('js:key', 'node value', {expires: 100});
    out.get = (await client.get('js:key')).value.toString();
    out.add_existing = await client.add('js:key', 'x');
    out.incr = (await client.increment('js:n', 2, {initial: 40})).value;
    out.incr2 = (await client.increment('js:n', 2)).value;
    out.delete = await client.delete('js:key');
    out.miss = (await client.get('js:key')).value;
  } catch (e) {
    out.error = String(e.message || e).slice(0, 40);
  }
  client.close();
  console.log(JSON.stringify(out));
})();
"""


def run_node(port, user, password):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    modules = REPO / ".npm-deps" / "node_modules"
    assert (modules / "memjs").is_dir(), \
        "memjs is not installed: run scripts/install-deps.sh (npm install into .npm-deps/)"
    env = dict(os.environ, NODE_PATH=str(modules))
    return clienttools.run_json([node, "-e", NODE_SCRIPT, port, user, password], env=env)


def test_memjs_sasl(sasl_target):
    _, port = sasl_target
    out = run_node(port, "appuser", "s3cret-pass")
    assert out == {"set": True, "get": "node value", "add_existing": False, "incr": 40,
                   "incr2": 42, "delete": True, "miss": None}


def test_memjs_wrong_password(sasl_target):
    _, port = sasl_target
    out = run_node(port, "appuser", "wrong")
    assert "error" in out and "get" not in out
