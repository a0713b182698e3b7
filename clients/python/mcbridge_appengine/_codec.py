"""Keys and values as they go over the wire to mcbridge.

Keys. App Engine keys are any str/bytes (or a (hash, key) pair whose hash is ignored);
key_prefix is prepended and a result longer than 250 bytes is replaced by its SHA-1 hex digest,
as App Engine did. The namespace was a separate field on App Engine; memcached has only the
key, so the wire key is:

  default namespace, key of printable ASCII without space and not starting with '~':
      the key itself (what pymemcache or python-memcached would use)
  otherwise:  '~' + namespace + ':' + key          (printable ASCII key)
              '~' + namespace + '=' + base64url(key) (any other bytes: space, UTF-8, ...)
  and if that is longer than 250 bytes: '~' + namespace + '#' + sha1hex(key)

A namespace is [0-9A-Za-z._-]{0,100}, so the character after it tells the three forms apart and
no two (namespace, key) pairs share a wire key (short of SHA-1 collisions).

Values. The flags are python-memcached's and pymemcache's (serde.python_memcache_serializer /
pickle_serde), so those clients read what this module writes and the other way round:

  bytes      0   as is
  str       16   UTF-8
  int        2   decimal ASCII (so incr/decr work on it); bool is not int here: pickled
  other      1   pickle (the Client's protocol, highest by default)
  on read also: 4 (python-memcached's long) as int; 8 (zlib-compressed) is decompressed first.
  256 marks a delete lock (delete(key, seconds)): read as a miss.
"""

import base64
import hashlib
import io
import math
import pickle
import re
import zlib

from . import namespace_manager

MAX_KEY_SIZE = 250
MAX_VALUE_SIZE = 10 ** 6

FLAG_BYTES = 0
FLAG_PICKLE = 1 << 0
FLAG_INTEGER = 1 << 1
FLAG_LONG = 1 << 2
FLAG_COMPRESSED = 1 << 3
FLAG_TEXT = 1 << 4
FLAG_DELETE_LOCK = 1 << 8


def _is_pair(obj):
    return isinstance(obj, tuple) and len(obj) == 2


def user_key(key):
    """The key as the caller sees it in returned dicts: a pair gives its second element."""
    return key[1] if _is_pair(key) else key


def server_key(key, key_prefix=""):
    """App Engine's key: prefix + key in bytes, SHA-1 hex digest when over 250 bytes.
    Raises TypeError for anything but str/bytes (or a pair ending in one)."""
    key = user_key(key)
    if not isinstance(key, (str, bytes)):
        raise TypeError("Key must be a string instance, received %r" % (key,))
    if not isinstance(key_prefix, (str, bytes)):
        raise TypeError("key_prefix must be a string instance, received %r" % (key_prefix,))
    if isinstance(key, str):
        key = key.encode("utf-8")
    if isinstance(key_prefix, str):
        key_prefix = key_prefix.encode("utf-8")
    full = key_prefix + key
    if len(full) > MAX_KEY_SIZE:
        full = hashlib.sha1(full).hexdigest().encode("ascii")
    return full


def resolve_namespace(namespace):
    """None -> the current namespace; validated like namespace_manager does."""
    if namespace is None:
        return namespace_manager.get_namespace()
    if isinstance(namespace, bytes):
        namespace = namespace.decode("ascii", "replace")
    namespace_manager.validate_namespace(namespace)
    return namespace


_plain = re.compile(rb"[!-~]*\Z").match  # printable ASCII, no space


def wire_key(namespace, key):
    """The memcached key for an App Engine server key in a namespace (see the module doc)."""
    plain = _plain(key)
    if not namespace and plain and key and key[0] != 0x7e:
        return key
    ns = namespace.encode("ascii")
    if plain:
        out = b"~" + ns + b":" + key
    else:
        out = b"~" + ns + b"=" + base64.urlsafe_b64encode(key)
    if len(out) > MAX_KEY_SIZE:
        out = b"~" + ns + b"#" + hashlib.sha1(key).hexdigest().encode("ascii")
    return out


def expiration(time):
    """App Engine's `time`: seconds from now (up to 30 days) or an absolute Unix time; floats
    round up. memcached reads exptime the same way."""
    if not isinstance(time, (int, float)):
        raise TypeError("Expiration must be a number.")
    if time < 0:
        raise ValueError("Expiration must not be negative.")
    return int(math.ceil(time))


def encode_value(value, pickle_protocol, pickler=pickle.Pickler, persistent_id=None):
    """(flags, bytes) for a value; ValueError when over MAX_VALUE_SIZE."""
    kind = type(value)
    if kind is bytes:
        flags, data = FLAG_BYTES, value
    elif kind is str:
        flags, data = FLAG_TEXT, value.encode("utf-8")
    elif kind is int:
        flags, data = FLAG_INTEGER, b"%d" % value
    else:
        out = io.BytesIO()
        p = pickler(out, protocol=pickle_protocol)
        if persistent_id is not None:
            p.persistent_id = persistent_id
        p.dump(value)
        flags, data = FLAG_PICKLE, out.getvalue()
    if len(data) > MAX_VALUE_SIZE:
        raise ValueError("Values may not be more than %d bytes in length; received %d bytes"
                         % (MAX_VALUE_SIZE, len(data)))
    return flags, data


class Miss(Exception):
    """The stored item is not a value (a delete lock)."""


def decode_value(flags, data, unpickler=pickle.Unpickler, persistent_load=None):
    if flags & FLAG_DELETE_LOCK:
        raise Miss()
    if flags & FLAG_COMPRESSED:
        data = zlib.decompress(data)
        flags &= ~FLAG_COMPRESSED
    if flags & FLAG_TEXT:
        return data.decode("utf-8")
    if flags & (FLAG_INTEGER | FLAG_LONG):
        return int(data)
    if flags & FLAG_PICKLE:
        u = unpickler(io.BytesIO(data))
        if persistent_load is not None:
            u.persistent_load = persistent_load
        return u.load()
    return data
