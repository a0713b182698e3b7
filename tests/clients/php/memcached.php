<?php
// Drives PHP's Memcached extension (Debian's php-memcached, on libmemcached) against one or
// more servers and prints every result as "<label> <case> = <JSON value>", one line each, in a
// fixed order, with the client's result code. The pytest module
// (tests/clients/test_cli_php_memcache.py) runs it against memcached 1.6.18 and mcbridge and
// compares the lines. CAS ids, ports and timings are never printed.
//
// Arguments: <label>=<kind>:<port> ..., kind is
//   text      ASCII protocol, compression off
//   binary    OPT_BINARY_PROTOCOL
//   buffered  ASCII with OPT_BUFFER_WRITES + OPT_NOREPLY (writes pipelined, no replies read)

error_reporting(E_ALL & ~E_WARNING & ~E_NOTICE & ~E_DEPRECATED);
$label = '';
$m = null;

function out($case, $value) {
  global $label, $m;
  if (is_string($value) && strlen($value) > 200) {
    $value = ['len' => strlen($value), 'md5' => md5($value)];
  }
  echo $label, ' ', $case, ' = ',
      json_encode([$value, $m->getResultCode()],
                  JSON_INVALID_UTF8_SUBSTITUTE | JSON_PARTIAL_OUTPUT_ON_ERROR), "\n";
}

function client($port, $kind) {
  $m = new Memcached();
  $m->setOption(Memcached::OPT_COMPRESSION, false);
  $m->setOption(Memcached::OPT_SEND_TIMEOUT, 5000000);
  $m->setOption(Memcached::OPT_RECV_TIMEOUT, 5000000);
  if ($kind === 'binary') {
    $m->setOption(Memcached::OPT_BINARY_PROTOCOL, true);
  }
  if ($kind === 'buffered') {
    $m->setOption(Memcached::OPT_BUFFER_WRITES, true);
    $m->setOption(Memcached::OPT_NOREPLY, true);
  }
  $m->addServer('127.0.0.1', $port);
  return $m;
}

function extendedValue($r) {
  return is_array($r) ? [$r['value'], $r['flags'], $r['cas'] > 0] : $r;
}

function common($m, $kind) {
  out('flush', $m->flush());
  out('set', $m->set('k', 'hello'));
  out('get', $m->get('k'));
  out('get.miss', $m->get('nope'));
  out('add.exists', $m->add('k', 'x'));
  out('add.new', $m->add('a1', 'added', 3600));
  out('replace.miss', $m->replace('nope', 'x'));
  out('replace', $m->replace('k', 'world'));
  out('append', $m->append('k', '!'));
  out('prepend', $m->prepend('k', '>'));
  out('append.miss', $m->append('nope', '!'));
  out('get.appended', $m->get('k'));
  out('get.extended', extendedValue($m->get('k', null, Memcached::GET_EXTENDED)));
  out('delete', $m->delete('k'));
  out('delete.again', $m->delete('k'));

  out('set.types', [$m->set('t:int', 42), $m->set('t:float', 2.5), $m->set('t:bool', false),
                    $m->set('t:arr', ['a' => [1, 2]]), $m->set('t:bin', "\0\r\nEND\r\n")]);
  out('get.types', [$m->get('t:int'), $m->get('t:float'), $m->get('t:bool'),
                    $m->get('t:arr'), bin2hex($m->get('t:bin'))]);

  // cas
  out('set.c', $m->set('c', 'one'));
  $r = $m->get('c', null, Memcached::GET_EXTENDED);
  out('gets', extendedValue($r));
  out('cas.ok', $m->cas($r['cas'], 'c', 'two'));
  out('cas.stale', $m->cas($r['cas'], 'c', 'three'));
  out('cas.miss', $m->cas($r['cas'], 'nope', 'x'));
  out('get.cas', $m->get('c'));

  // multi
  $items = [];
  for ($i = 0; $i < 150; $i++) {
    $items["m:$i"] = str_repeat("v$i", $i % 9);
  }
  out('setMulti', $m->setMulti($items, 3600));
  $r = $m->getMulti(array_merge(array_keys($items), ['nope']));
  ksort($r);
  out('getMulti', $r);
  $r = $m->getMulti(['m:1', 'm:2', 'nope'], Memcached::GET_EXTENDED);
  ksort($r);
  out('getMulti.extended', array_map('extendedValue', $r));
  out('getMulti.preserve', $m->getMulti(['m:3', 'nope', 'm:1'], Memcached::GET_PRESERVE_ORDER));
  out('getDelayed', $m->getDelayed(['m:4', 'm:5', 'nope']));
  $all = $m->fetchAll();
  usort($all, fn($a, $b) => strcmp($a['key'], $b['key']));
  out('fetchAll', array_map(fn($x) => [$x['key'], $x['value']], $all));
  out('deleteMulti', $m->deleteMulti(['m:1', 'm:2', 'nope']));

  // counters
  out('incr.miss', $m->increment('n'));
  out('set.n', $m->set('n', '10'));
  out('incr', $m->increment('n', 5));
  out('decr.floor', $m->decrement('n', 100));
  out('incr.from0', $m->increment('n', 1000));
  out('decr.shorter', $m->decrement('n', 1));
  out('get.decremented', $m->get('n'));
  out('set.nan', $m->set('nan', 'abc'));
  out('incr.nan', $m->increment('nan', 1));
  if ($kind === 'binary') {
    out('incr.initial', $m->increment('init', 2, 40, 3600));
    out('incr.initial.again', $m->increment('init', 2, 40, 3600));
    out('decr.initial', $m->decrement('init2', 2, 7));
  }

  out('touch', $m->touch('a1', 100));
  out('touch.miss', $m->touch('nope', 100));

  // sizes
  out('set.near.limit', $m->set('near', str_repeat("abcdefgh", (1024 * 1024 - 1024) / 8)));
  out('get.near.limit', $m->get('near'));
  out('set.too.big', $m->set('near', str_repeat('x', 2 * 1024 * 1024)));
  out('get.after.too.big', $m->get('near'));

  // libmemcached's memcached_dump: "stats cachedump <class> 0" for every class
  $keys = $m->getAllKeys();
  out('getAllKeys.is_array', is_array($keys));
  out('getVersion', array_values($m->getVersion()));
  $st = $m->getStats();
  $st = is_array($st) ? reset($st) : [];
  $has = [];
  foreach (['pid', 'uptime', 'version', 'curr_items', 'total_items', 'cmd_get', 'threads']
           as $k) {
    $has[$k] = array_key_exists($k, $st);
  }
  out('getStats.has', $has);
  out('flush.end', $m->flush());
  out('get.flushed', $m->get('a1'));
}

// Writes pipelined without replies (noreply), then read back.
function buffered($m) {
  out('flush', $m->flush());
  for ($i = 0; $i < 200; $i++) {
    $m->set("b:$i", "value $i");
  }
  $m->delete('b:0');
  $m->add('b:1', 'not stored');
  $m->replace('b:2', 'replaced');
  $m->append('b:3', '+appended');
  $m->increment('b:counter', 1);
  $m->set('b:counter', '5');
  $m->increment('b:counter', 3);
  $m->flushBuffers();
  $r = $m->getMulti(['b:0', 'b:1', 'b:2', 'b:3', 'b:199', 'b:counter']);
  ksort($r);
  out('after.noreply', $r);
  $r = $m->getMulti(array_map(fn($i) => "b:$i", range(0, 199)));
  out('after.noreply.count', count($r));
}

foreach (array_slice($argv, 1) as $arg) {
  [$label, $spec] = explode('=', $arg, 2);
  [$kind, $port] = explode(':', $spec);
  $m = client((int)$port, $kind);
  if ($kind === 'buffered') {
    buffered($m);
  } else {
    common($m, $kind);
  }
  $m->quit();
}
