<?php
// Drives PHP's older pecl "memcache" extension (Debian's php-memcache; class Memcache, beside
// php-memcached's class Memcached) against one or more servers and prints every result as
// "<label> <case> = <JSON value>", one line each, in a fixed order. The pytest module
// (tests/clients/test_cli_php_memcache.py) runs it against memcached 1.6.18 and mcbridge and
// compares the lines. CAS ids, ports and timings are never printed.
//
// Arguments: <label>=<kind>:<port>[:<user>:<password>] ..., kind is
//   ascii    memcache.protocol=ascii (the default), plus the session handler
//   binary   memcache.protocol=binary
//   noauth   binary against a server that requires SASL. (php-memcache 4.0.5 keeps what
//            setSaslAuthData is given but never authenticates with it: every request is
//            refused, the same way by memcached -S and mcbridge --auth-file.)

error_reporting(E_ALL & ~E_WARNING & ~E_NOTICE & ~E_DEPRECATED);
ob_start();  // the session handler wants no output before session_start()
$label = '';

function out($case, $value) {
  global $label;
  if (is_string($value) && strlen($value) > 200) {
    $value = ['len' => strlen($value), 'md5' => md5($value)];
  }
  echo $label, ' ', $case, ' = ',
      json_encode($value, JSON_INVALID_UTF8_SUBSTITUTE | JSON_PARTIAL_OUTPUT_ON_ERROR), "\n";
}

function client($port) {
  $m = new Memcache();
  // retry_interval 0: a failed request (some error replies count as failures) does not
  // keep the server marked down for the next one.
  $m->addServer('127.0.0.1', $port, false, 1, 5, 0);
  $m->setCompressThreshold(0);
  return $m;
}

function basic($m, $binary) {
  out('flush', $m->flush());
  out('set', $m->set('k', 'hello'));
  out('get', $m->get('k'));
  out('get.miss', $m->get('nope'));
  out('add.exists', $m->add('k', 'x'));
  out('add.new', $m->add('a1', 'added', 0, 3600));
  out('replace.miss', $m->replace('nope', 'x'));
  out('replace', $m->replace('k', 'world'));
  out('append', $m->append('k', '!'));
  out('prepend', $m->prepend('k', '>'));
  out('append.miss', $m->append('nope', '!'));
  out('get.appended', $m->get('k'));
  $flags = null;
  out('set.flags', $m->set('fl', 'flagged', 0x10000, 0));
  $v = $m->get('fl', $flags);
  out('get.flags', [$v, $flags]);
  out('delete', $m->delete('k'));
  out('delete.again', $m->delete('k'));

  // Types the extension serializes (flags say which).
  out('set.int', $m->set('t:int', 42));
  out('get.int', $m->get('t:int'));
  out('set.float', $m->set('t:float', 2.5));
  out('get.float', $m->get('t:float'));
  out('set.bool', $m->set('t:bool', true));
  out('get.bool', $m->get('t:bool'));
  out('set.array', $m->set('t:arr', ['a' => [1, 2], 'b' => null]));
  out('get.array', $m->get('t:arr'));
  out('set.binary', $m->set('t:bin', "\0\r\nEND\r\n\xff"));
  out('get.binary', bin2hex($m->get('t:bin')));
  out('set.empty', $m->set('t:empty', ''));
  out('get.empty', $m->get('t:empty'));

  // cas: get() fills flags and the CAS id when asked for them.
  $f = null;
  $cas = null;
  out('set.c', $m->set('c', 'one'));
  $v = $m->get('c', $f, $cas);
  out('gets', [$v, is_numeric($cas) && $cas > 0]);
  out('cas.ok', $m->cas('c', 'two', 0, 0, $cas));
  out('cas.stale', $m->cas('c', 'three', 0, 0, $cas));
  out('cas.miss', $m->cas('nope', 'x', 0, 0, $cas));
  out('get.cas', $m->get('c'));

  // multi-get
  $keys = [];
  for ($i = 0; $i < 150; $i++) {
    $keys[] = "m:$i";
    if ($i % 3) {
      $m->set("m:$i", str_repeat("v$i", $i % 9));
    }
  }
  $keys[] = 'nope';
  $r = $m->get($keys);
  ksort($r);
  out('get.multi', $r);
  $fl = [];
  $cs = [];
  $r = $m->get(['m:1', 'm:2', 'nope'], $fl, $cs);
  ksort($fl);
  out('get.multi.flags', [$fl, array_map(fn($c) => $c > 0, $cs)]);

  // counters
  out('incr.miss', $m->increment('n'));
  out('set.n', $m->set('n', '10'));
  out('incr', $m->increment('n', 5));
  out('decr.floor', $m->decrement('n', 100));
  out('incr.from0', $m->increment('n', 1000));
  out('decr.shorter', $m->decrement('n', 1));
  out('get.decremented', $m->get('n'));
  out('set.max', $m->set('max', '18446744073709551615'));
  out('incr.wrap', $m->increment('max', 3));
  out('set.nan', $m->set('nan', 'abc'));
  out('incr.nan', $m->increment('nan', 1));
  out('get.nan', $m->get('nan'));
  out('incr.default', $m->increment('dflt', 5, 100, 3600));
  out('incr.default.again', $m->increment('dflt', 5, 100, 3600));
  out('decr.default', $m->decrement('dflt2', 5, 7));

  // expiry, delete with a time
  out('set.exp.negative', $m->set('e1', 'gone', 0, -1));
  out('get.exp.negative', $m->get('e1'));
  out('set.exp.future.abs', $m->set('e3', 'kept', 0, time() + 3600));
  out('get.exp.future.abs', $m->get('e3'));
  out('delete.time0', $m->delete('e3', 0));

  // sizes
  $near = str_repeat(pack('N', 0x01020304) . "abcd", (1024 * 1024 - 1024) / 8);
  out('set.near.limit', $m->set('near', $near));
  out('get.near.limit', $m->get('near'));
  out('set.small', $m->set('big', 'small'));
  out('set.too.big', $m->set('big', str_repeat('x', 2 * 1024 * 1024)));
  out('get.after.too.big', $m->get('big'));
  out('get.after.error', $m->get('a1'));

  out('version', $m->getVersion());
  $st = $m->getStats();
  $has = [];
  foreach (['pid', 'uptime', 'version', 'curr_items', 'total_items', 'cmd_get', 'threads']
           as $k) {
    $has[$k] = is_array($st) && array_key_exists($k, $st);
  }
  out('stats.has', $has);
  out('flush.end', $m->flush());
  out('get.flushed', $m->get('a1'));
}

function session($port) {
  ini_set('session.save_handler', 'memcache');
  ini_set('session.save_path', "tcp://127.0.0.1:$port");
  ini_set('session.use_cookies', '0');
  ini_set('session.cache_limiter', '');
  session_id('mcbridgetestsession01');
  out('session.start', session_start());
  out('session.initial', $_SESSION);
  $_SESSION['count'] = 1;
  $_SESSION['name'] = 'visitor';
  out('session.write', session_write_close());
  out('session.restart', session_start());
  $_SESSION['count']++;
  out('session.read', $_SESSION);
  out('session.write.again', session_write_close());
  out('session.restart.again', session_start());
  out('session.read.again', $_SESSION);
  out('session.destroy', session_destroy());
}

function noauth($m) {
  out('noauth.set', $m->set('auth:k', 'value'));
  out('noauth.get', $m->get('auth:k'));
  out('noauth.get.multi', $m->get(['auth:k', 'nope']));
  out('noauth.incr', $m->increment('auth:n', 2, 40));
  out('noauth.delete', $m->delete('auth:k'));
  out('noauth.version', $m->getVersion());
}

foreach (array_slice($argv, 1) as $arg) {
  [$label, $spec] = explode('=', $arg, 2);
  $p = explode(':', $spec);
  $kind = $p[0];
  $port = (int)$p[1];
  ini_set('memcache.protocol', $kind === 'ascii' ? 'ascii' : 'binary');
  switch ($kind) {
    case 'ascii':
      basic(client($port), false);
      session($port);
      break;
    case 'binary':
      basic(client($port), true);
      break;
    case 'noauth':
      noauth(client($port));
      break;
    default:
      fwrite(STDERR, "unknown kind $kind\n");
      exit(2);
  }
}
ob_end_flush();
