"""The current namespace, as google.appengine.api.namespace_manager offers it.

App Engine kept the namespace in the request's environment; here it lives in a context
variable, so each thread (and each asyncio task) has its own and a new thread starts in the
default namespace (''). Set it at the start of each request, as on App Engine, or pass
`namespace=` to the memcache calls.
"""

import contextvars
import re

NAMESPACE_RE = r"^[0-9A-Za-z._-]{0,100}$"
_NAMESPACE_PATTERN = re.compile(NAMESPACE_RE)

_current = contextvars.ContextVar("mcbridge_appengine_namespace", default="")


class BadValueError(ValueError):
    """A namespace that App Engine would refuse (datastore_errors.BadValueError there)."""


def validate_namespace(value, exception=BadValueError):
    """Raise `exception` unless value is a string of at most 100 of [0-9A-Za-z._-]."""
    if not isinstance(value, str):
        raise exception("value should be a string; received %r (a %s):" % (value, type(value)))
    if not _NAMESPACE_PATTERN.match(value):
        raise exception('value "%s" does not match regex "%s"' % (value, NAMESPACE_RE))


def set_namespace(namespace):
    """Set the current namespace; None resets it to the default namespace ('')."""
    if namespace is None:
        _current.set("")
        return
    validate_namespace(namespace)
    _current.set(namespace)


def get_namespace():
    """The current namespace, '' when none is set."""
    return _current.get()


def google_apps_namespace():
    """No Google Apps domain outside App Engine: always ''."""
    return ""


def enable_request_namespace():
    """A no-op kept for source compatibility (it was deprecated on App Engine too)."""
