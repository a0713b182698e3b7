"""App Engine's bundled Memcache API over mcbridge: `from mcbridge_appengine import memcache`
(and `namespace_manager`). See memcache.py and the repository README, "Migrating from App Engine
Memcache"."""

__version__ = "0.1.0"
