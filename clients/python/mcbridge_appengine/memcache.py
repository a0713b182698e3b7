"""App Engine's Memcache API (google.appengine.api.memcache) over mcbridge.

Migrate with one line:

    from google.appengine.api import memcache      # before
    from mcbridge_appengine import memcache          # after

The functions, the Client class, their arguments, return values and exceptions are App
Engine's. A failure to reach mcbridge (or an error it answers) is never raised into the app:
it is logged on the "mcbridge_appengine.memcache" logger and the call returns what App Engine
returned for a failed RPC (None / False / {} / all keys / DELETE_NETWORK_FAILURE).

Where mcbridge is: MCBRIDGE_ADDRESS and friends, see _wire.Config. How keys and values look on
the wire (so pymemcache and python-memcached interoperate): see _codec.
"""

import logging
import math
import os
import pickle
import threading

from . import _codec
from . import _wire
from . import namespace_manager  # noqa: F401  (the API module App Engine apps import too)
from ._codec import MAX_KEY_SIZE, MAX_VALUE_SIZE  # noqa: F401

log = logging.getLogger("mcbridge_appengine.memcache")

DELETE_NETWORK_FAILURE = 0
DELETE_ITEM_MISSING = 1
DELETE_SUCCESSFUL = 2

# Statuses in the dicts of the *_multi_async set calls (MemcacheSetResponse's values).
STORED = 1
NOT_STORED = 2
ERROR = 3
EXISTS = 4

STAT_HITS = "hits"
STAT_MISSES = "misses"
STAT_BYTE_HITS = "byte_hits"
STAT_ITEMS = "items"
STAT_BYTES = "bytes"
STAT_OLDEST_ITEM_AGES = "oldest_item_age"

# App Engine's own value type numbers, kept for source compatibility only: mcbridge stores
# values with python-memcached's flags instead (see _codec), so other clients can read them.
FLAG_TYPE_MASK = 7
FLAG_COMPRESSED = 1 << 3
TYPE_STR = 0
TYPE_UNICODE = 1
TYPE_PICKLED = 2
TYPE_INT = 3
TYPE_LONG = 4
TYPE_BOOL = 5

_SET, _ADD, _REPLACE, _CAS = b"set", b"add", b"replace", b"cas"
_U64 = 1 << 64


# --------------------------------------------------------------------------- RPC objects

class _RPC(object):
    """What the *_async calls return: the call has already completed, get_result() returns
    its result. create_rpc() makes one to pass as rpc=; its callback runs on completion."""

    def __init__(self, deadline=None, callback=None):
        self.deadline = deadline
        self.callback = callback
        self.service = "memcache"
        self._done = False
        self._result = None

    def _complete(self, result):
        self._result, self._done = result, True
        if self.callback is not None:
            self.callback()
        return self

    @property
    def state(self):
        return 2 if self._done else 0  # apiproxy_rpc.RPC.FINISHING / IDLE

    def wait(self):
        pass

    def check_success(self):
        pass

    def get_result(self):
        return self._result


def create_rpc(deadline=None, callback=None):
    """An RPC object for the rpc= argument of the *_async calls."""
    return _RPC(deadline, callback)


def _finish(rpc, result):
    return (rpc if rpc is not None else _RPC())._complete(result)


def _check_delta(delta):
    if not isinstance(delta, int):
        raise TypeError("Delta must be an integer or long, received %r" % (delta,))


def _check_initial_value(initial_value):
    if initial_value is None:
        return
    if not isinstance(initial_value, int):
        raise TypeError("initial_value must be an integer")
    if initial_value < 0:
        raise ValueError("initial_value must be >= 0")
    if initial_value >= _U64:
        raise ValueError("initial_value must be < 2**64")


def _check_seconds(seconds):
    if not isinstance(seconds, (int, float)):
        raise TypeError("Delete timeout must be a number.")
    if seconds < 0:
        raise ValueError("Delete timeout must not be negative.")
    return int(math.ceil(seconds))


def _store_status(reply):
    if reply == b"STORED":
        return STORED
    if reply in (b"NOT_STORED", b"NOT_FOUND"):
        return NOT_STORED
    if reply == b"EXISTS":
        return EXISTS
    return ERROR


# --------------------------------------------------------------------------- Client

class Client(object):
    """Memcache client object, through which one invokes all memcache operations.

    The App Engine arguments are accepted (servers, debug, make_sync_call and _app_id are
    ignored). address, timeout, connect_timeout, username and password override the
    MCBRIDGE_* environment variables. Connections are made on first use and pooled; a Client
    is thread-safe except for the CAS ids that gets()/cas() remember (as on App Engine: use
    one Client per request for CAS)."""

    def __init__(self, servers=None, debug=0, pickleProtocol=pickle.HIGHEST_PROTOCOL,
                 pickler=pickle.Pickler, unpickler=pickle.Unpickler, pload=None, pid=None,
                 make_sync_call=None, _app_id=None, address=None, timeout=None,
                 connect_timeout=None, username=None, password=None):
        if os.environ.get("MEMCACHE_USE_CROSS_COMPATIBLE_PROTOCOL"):
            pickleProtocol = 2
        self._pickle_protocol = pickleProtocol
        self._pickler_factory = pickler
        self._unpickler_factory = unpickler
        self._persistent_id = pid
        self._persistent_load = pload
        self._config_args = dict(address=address, timeout=timeout,
                                 connect_timeout=connect_timeout, username=username,
                                 password=password)
        self._backend = None
        self._backend_lock = threading.Lock()
        self._cas_ids = {}

    # -- plumbing

    def _get_backend(self):
        if self._backend is None:
            with self._backend_lock:
                if self._backend is None:
                    self._backend = _wire.Backend(_wire.Config(**self._config_args))
        return self._backend

    def _run(self, what, op, failure):
        """op(backend) or, when mcbridge fails (or the configuration cannot be read), the
        failure value, logged."""
        try:
            return op(self._get_backend())
        except _wire.BackendError as e:
            log.warning("memcache %s failed (answered as a failure): %s", what, e)
        except (ValueError, OSError) as e:
            log.error("memcache %s: bad configuration (answered as a failure): %s", what, e)
        return failure

    def _decode(self, flags, data):
        return _codec.decode_value(flags, data, self._unpickler_factory, self._persistent_load)

    def _encode(self, value):
        return _codec.encode_value(value, self._pickle_protocol, self._pickler_factory,
                                   self._persistent_id)

    # -- compatibility methods (no-ops on App Engine)

    def set_servers(self, servers):
        pass

    def disconnect_all(self):
        """Close the pooled connections (new ones are made on the next call)."""
        if self._backend is not None:
            self._backend.close_all()

    def forget_dead_hosts(self):
        pass

    def debuglog(self):
        pass

    def cas_reset(self):
        """Clear the remembered CAS ids."""
        self._cas_ids.clear()

    # -- stats and flush

    def get_stats(self):
        """{hits, misses, byte_hits, items, bytes, oldest_item_age} of the mcbridge answering,
        None on error. byte_hits is mcbridge's bytes_written (all bytes sent to clients) and
        oldest_item_age is 0: memcached has no such figures."""
        return self.get_stats_async().get_result()

    def get_stats_async(self, rpc=None):
        def op(backend):
            s = _wire.stats(backend)

            def num(name):
                try:
                    return int(s.get(name, 0))
                except ValueError:
                    return 0
            return {STAT_HITS: num("get_hits"), STAT_MISSES: num("get_misses"),
                    STAT_BYTE_HITS: num("bytes_written"), STAT_ITEMS: num("curr_items"),
                    STAT_BYTES: num("bytes"), STAT_OLDEST_ITEM_AGES: 0}
        return _finish(rpc, self._run("stats", op, None))

    def flush_all(self):
        """Deletes everything in memcache. True on success, False on error."""
        return self.flush_all_async().get_result()

    def flush_all_async(self, rpc=None):
        def op(backend):
            reply = _wire.simple(backend, [b"flush_all"])[0]
            if reply != b"OK":
                log.warning("memcache flush_all refused: %r", reply[:200])
            return reply == b"OK"
        return _finish(rpc, self._run("flush_all", op, False))

    # -- get

    def get(self, key, namespace=None, for_cas=False):
        """The value of key, or None on a miss or an error."""
        results = self.get_multi_async([key], namespace=namespace, for_cas=for_cas)
        return results.get_result().get(_codec.user_key(key))

    def gets(self, key, namespace=None):
        """get(key, for_cas=True)."""
        return self.get(key, namespace=namespace, for_cas=True)

    def get_multi(self, keys, key_prefix="", namespace=None, for_cas=False):
        """{key: value} of the keys present (without key_prefix); {} on error."""
        return self.get_multi_async(keys, key_prefix, namespace, for_cas).get_result()

    def get_multi_async(self, keys, key_prefix="", namespace=None, for_cas=False, rpc=None):
        ns = _codec.resolve_namespace(namespace)
        users = {}
        for key in keys:
            users[_codec.wire_key(ns, _codec.server_key(key, key_prefix))] = \
                _codec.user_key(key)
        if not users:
            return _finish(rpc, {})

        def op(backend):
            hits, errors = _wire.get(backend, list(users), for_cas)
            for line in errors:
                log.warning("memcache get failed for some keys: %r", line[:200])
            out = {}
            for wk, (flags, data, cas) in hits.items():
                if wk not in users:
                    continue
                try:
                    value = self._decode(flags, data)
                except _codec.Miss:
                    continue
                except Exception as e:  # a value this client cannot read is a miss
                    log.warning("memcache get: cannot decode %r (flags %d): %s", wk, flags, e)
                    continue
                if for_cas and cas is not None:
                    self._cas_ids[wk] = cas
                out[users[wk]] = value
            return out
        return _finish(rpc, self._run("get", op, {}))

    # -- set, add, replace, cas

    def _store_async(self, verb, mapping, time, key_prefix, namespace, rpc):
        """rpc whose result is {user key: STORED|NOT_STORED|ERROR|EXISTS}, None on error."""
        exptime = _codec.expiration(time)
        ns = _codec.resolve_namespace(namespace)
        items, statuses, sent = [], {}, []
        for key, value in mapping.items():
            wk = _codec.wire_key(ns, _codec.server_key(key, key_prefix))
            uk = _codec.user_key(key)
            flags, data = self._encode(value)
            cas = None
            if verb == _CAS:
                cas = self._cas_ids.get(wk)
                if cas is None:  # never fetched with gets(): App Engine answers NOT_STORED
                    statuses[uk] = NOT_STORED
                    continue
            items.append((verb, wk, flags, exptime, data, cas))
            sent.append(uk)
        if not items:
            return _finish(rpc, statuses)

        def op(backend):
            for uk, reply in zip(sent, _wire.store(backend, items)):
                statuses[uk] = _store_status(reply)
                if statuses[uk] == ERROR:
                    log.warning("memcache %s failed for a key: %r", verb.decode(), reply[:200])
            return statuses
        return _finish(rpc, self._run(verb.decode(), op, None))

    def _store_one(self, verb, key, value, time, namespace):
        statuses = self._store_async(verb, {key: value}, time, "", namespace, None).get_result()
        return bool(statuses) and statuses.get(_codec.user_key(key)) == STORED

    def _store_multi(self, verb, mapping, time, key_prefix, namespace):
        statuses = self._store_async(verb, mapping, time, key_prefix, namespace,
                                     None).get_result()
        if not statuses:
            return list(dict.fromkeys(_codec.user_key(k) for k in mapping))
        return [uk for uk in dict.fromkeys(_codec.user_key(k) for k in mapping)
                if statuses.get(uk) != STORED]

    def set(self, key, value, time=0, min_compress_len=0, namespace=None):
        """Sets a key's value regardless of previous contents. True if set, False on error."""
        return self._store_one(_SET, key, value, time, namespace)

    def add(self, key, value, time=0, min_compress_len=0, namespace=None):
        """Sets a key's value only if it is not in memcache. True if added."""
        return self._store_one(_ADD, key, value, time, namespace)

    def replace(self, key, value, time=0, min_compress_len=0, namespace=None):
        """Replaces a key's value only if it is in memcache. True if replaced."""
        return self._store_one(_REPLACE, key, value, time, namespace)

    def cas(self, key, value, time=0, min_compress_len=0, namespace=None):
        """Compare-and-set: True if key is unchanged since this client's gets(key)."""
        return self._store_one(_CAS, key, value, time, namespace)

    def set_multi(self, mapping, time=0, key_prefix="", min_compress_len=0, namespace=None):
        """The list of keys not set ([] on total success, all keys on error)."""
        return self._store_multi(_SET, mapping, time, key_prefix, namespace)

    def add_multi(self, mapping, time=0, key_prefix="", min_compress_len=0, namespace=None):
        """The list of keys not added because they exist (all keys on error)."""
        return self._store_multi(_ADD, mapping, time, key_prefix, namespace)

    def replace_multi(self, mapping, time=0, key_prefix="", min_compress_len=0,
                      namespace=None):
        """The list of keys not replaced because they are missing (all keys on error)."""
        return self._store_multi(_REPLACE, mapping, time, key_prefix, namespace)

    def cas_multi(self, mapping, time=0, key_prefix="", min_compress_len=0, namespace=None):
        """The list of keys not set because the compare failed (all keys on error)."""
        return self._store_multi(_CAS, mapping, time, key_prefix, namespace)

    def set_multi_async(self, mapping, time=0, key_prefix="", min_compress_len=0,
                        namespace=None, rpc=None):
        return self._store_async(_SET, mapping, time, key_prefix, namespace, rpc)

    def add_multi_async(self, mapping, time=0, key_prefix="", min_compress_len=0,
                        namespace=None, rpc=None):
        return self._store_async(_ADD, mapping, time, key_prefix, namespace, rpc)

    def replace_multi_async(self, mapping, time=0, key_prefix="", min_compress_len=0,
                            namespace=None, rpc=None):
        return self._store_async(_REPLACE, mapping, time, key_prefix, namespace, rpc)

    def cas_multi_async(self, mapping, time=0, key_prefix="", min_compress_len=0,
                        namespace=None, rpc=None):
        return self._store_async(_CAS, mapping, time, key_prefix, namespace, rpc)

    # -- delete

    def delete(self, key, seconds=0, namespace=None):
        """DELETE_SUCCESSFUL (2), DELETE_ITEM_MISSING (1) or DELETE_NETWORK_FAILURE (0)."""
        results = self.delete_multi_async([key], seconds, namespace=namespace).get_result()
        if not results:
            return DELETE_NETWORK_FAILURE
        return results[0]

    def delete_multi(self, keys, seconds=0, key_prefix="", namespace=None):
        """True if every delete completed (found or not), False on error."""
        keys = list(keys)
        results = self.delete_multi_async(keys, seconds, key_prefix, namespace).get_result()
        return results is not None

    def delete_multi_async(self, keys, seconds=0, key_prefix="", namespace=None, rpc=None):
        """rpc whose result is a list of DELETE_* per key, None on error. With seconds > 0 a
        deleted key stays locked for add() that long (a tombstone item, read as a miss)."""
        lock = _check_seconds(seconds)
        ns = _codec.resolve_namespace(namespace)
        wks = [_codec.wire_key(ns, _codec.server_key(k, key_prefix)) for k in keys]
        if not wks:
            return _finish(rpc, [])

        def op(backend):
            results = []
            for reply in _wire.simple(backend, [b"delete " + wk for wk in wks]):
                if reply == b"DELETED":
                    results.append(DELETE_SUCCESSFUL)
                elif reply == b"NOT_FOUND":
                    results.append(DELETE_ITEM_MISSING)
                else:
                    log.warning("memcache delete failed: %r", reply[:200])
                    return None
            if lock:
                locks = [(_ADD, wk, _codec.FLAG_DELETE_LOCK, lock, b"", None)
                         for wk, r in zip(wks, results) if r == DELETE_SUCCESSFUL]
                if locks:
                    _wire.store(backend, locks)
            return results
        return _finish(rpc, self._run("delete", op, None))

    # -- incr, decr, offset_multi

    def incr(self, key, delta=1, namespace=None, initial_value=None):
        """Atomically adds delta (unsigned 64-bit, wraps around). The new value, or None if
        the key is missing (and no initial_value), not a number, or on error. A list of keys
        gives {key: new value}."""
        return self._incrdecr_async(key, False, delta, namespace, initial_value,
                                    None).get_result()

    def decr(self, key, delta=1, namespace=None, initial_value=None):
        """Atomically subtracts delta, stopping at 0. See incr()."""
        return self._incrdecr_async(key, True, delta, namespace, initial_value,
                                    None).get_result()

    def incr_async(self, key, delta=1, namespace=None, initial_value=None, rpc=None):
        return self._incrdecr_async(key, False, delta, namespace, initial_value, rpc)

    def decr_async(self, key, delta=1, namespace=None, initial_value=None, rpc=None):
        return self._incrdecr_async(key, True, delta, namespace, initial_value, rpc)

    def _incrdecr_async(self, key, is_negative, delta, namespace, initial_value, rpc):
        _check_delta(delta)
        if delta < 0:
            raise ValueError("Delta must not be negative.")
        if not isinstance(key, (str, bytes)) and not (
                isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], int)):
            try:
                keys = iter(key)
            except TypeError:
                pass  # not a collection: server_key() raises the TypeError
            else:
                return self.offset_multi_async(
                    dict((k, -delta if is_negative else delta) for k in keys),
                    namespace=namespace, initial_value=initial_value, rpc=rpc)
        _check_initial_value(initial_value)
        if delta >= _U64:
            raise ValueError("Delta must be < 2**64.")
        ns = _codec.resolve_namespace(namespace)
        wk = _codec.wire_key(ns, _codec.server_key(key))
        signed = -delta if is_negative else delta
        return _finish(rpc, self._run(
            "decr" if is_negative else "incr",
            lambda backend: self._offset(backend, [(wk, signed)], initial_value)[0], None))

    def offset_multi(self, mapping, key_prefix="", namespace=None, initial_value=None):
        """{key: new value or None}, each key offset by its (signed) delta in one batch."""
        return self.offset_multi_async(mapping, key_prefix, namespace,
                                       initial_value).get_result()

    def offset_multi_async(self, mapping, key_prefix="", namespace=None, initial_value=None,
                           rpc=None):
        _check_initial_value(initial_value)
        ns = _codec.resolve_namespace(namespace)
        items = []
        for key, delta in mapping.items():
            _check_delta(delta)
            if abs(delta) >= _U64:
                raise ValueError("Delta must be < 2**64 in magnitude.")
            items.append((_codec.wire_key(ns, _codec.server_key(key, key_prefix)), delta))
        keys = list(mapping)
        if not items:
            return _finish(rpc, {})

        def op(backend):
            return dict(zip(keys, self._offset(backend, items, initial_value)))
        return _finish(rpc, self._run("offset_multi", op, dict((k, None) for k in keys)))

    @staticmethod
    def _offset(backend, items, initial_value):
        """[new value or None] for [(wire key, signed delta)]: one pipelined round trip of
        incr/decr; with initial_value, missing keys are then created with initial_value
        already offset (add), and any add that lost a race is offset again."""
        def commands(indexes):
            return [b"%s %s %d" % (b"incr" if items[i][1] >= 0 else b"decr", items[i][0],
                                   abs(items[i][1])) for i in indexes]

        def parse(reply):
            if reply.isdigit():
                return int(reply)
            if reply != b"NOT_FOUND" and not reply.startswith(b"CLIENT_ERROR"):
                log.warning("memcache incr/decr failed: %r", reply[:200])
            return None

        replies = _wire.simple(backend, commands(range(len(items))))
        results = [parse(r) for r in replies]
        if initial_value is None:
            return results
        missing = [i for i, r in enumerate(replies) if r == b"NOT_FOUND"]
        if not missing:
            return results
        starts = {i: max(initial_value + items[i][1], 0) % _U64 for i in missing}
        adds = [(_ADD, items[i][0], _codec.FLAG_INTEGER, 0, b"%d" % starts[i], None)
                for i in missing]
        lost = []
        for i, reply in zip(missing, _wire.store(backend, adds)):
            if reply == b"STORED":
                results[i] = starts[i]
            elif reply == b"NOT_STORED":
                lost.append(i)
            else:
                log.warning("memcache incr/decr initial value failed: %r", reply[:200])
        if lost:
            for i, reply in zip(lost, _wire.simple(backend, commands(lost))):
                results[i] = parse(reply)
        return results


# --------------------------------------------------------------------------- module functions

_CLIENT = None


def setup_client(client_obj):
    """Use client_obj for the module-level functions (as App Engine's setup_client)."""
    global _CLIENT
    _CLIENT = client_obj
    g = globals()
    for name in ("set_servers", "disconnect_all", "forget_dead_hosts", "debuglog", "get",
                 "get_multi", "set", "set_multi", "add", "add_multi", "replace",
                 "replace_multi", "delete", "delete_multi", "incr", "decr", "flush_all",
                 "get_stats", "offset_multi"):
        g[name] = getattr(client_obj, name)


setup_client(Client())
