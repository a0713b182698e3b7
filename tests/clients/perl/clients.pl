#!/usr/bin/perl
# Drives Perl's memcached clients (Debian's libcache-memcached-fast-perl and
# libcache-memcached-perl, text protocol) against one or more servers and prints every result
# as "<label> <case> = <JSON value>", one line each, in a fixed order. The pytest module
# (tests/clients/test_cli_perl.py) runs it against memcached 1.6.18 and mcbridge and compares
# the lines. CAS ids, ports and timings are never printed.
#
# Arguments: <label>=<kind>:<port> ..., kind is
#   fast     Cache::Memcached::Fast (utf8 off, compression off): gets/cas, gat/gats, touch,
#            *_multi, nowait (noreply) requests
#   classic  Cache::Memcached (compression off)
#   anyevent AnyEvent::Memcached: many requests in flight on one connection, answered by
#            callbacks

use strict;
use warnings;

use AnyEvent;
use AnyEvent::Memcached;
use Cache::Memcached;
use Cache::Memcached::Fast;
use JSON::PP;

my $json = JSON::PP->new->canonical->allow_nonref->ascii;
my $label = '';

sub out {
  my ($case, $value) = @_;
  print "$label $case = ", $json->encode($value), "\n";
}

# A [cas, value] pair as the client returns it, without the CAS id (which differs between
# servers): whether there is a numeric one, and the value.
sub casval {
  my ($r) = @_;
  return undef unless ref $r eq 'ARRAY';
  return [($r->[0] // '') =~ /^\d+$/ ? 'cas' : 'no-cas', $r->[1]];
}

sub casmap {
  my ($h) = @_;
  return undef unless ref $h eq 'HASH';
  return {map { $_ => casval($h->{$_}) } keys %$h};
}

# Big values printed by size and a checksum of their bytes.
sub big {
  my ($v) = @_;
  return undef unless defined $v;
  my $sum = 0;
  $sum = ($sum * 31 + $_) % 4294967291 for unpack('C*', $v);
  return ['len', length($v), 'sum', $sum];
}

sub fast {
  my ($port) = @_;
  my $m = Cache::Memcached::Fast->new({
      servers => ["127.0.0.1:$port"], utf8 => 0, compress_threshold => -1,
      io_timeout => 5, connect_timeout => 2, max_size => 4 * 1024 * 1024,
      close_on_error => 1, nowait => 1});
  my $s = "127.0.0.1:$port";

  out('flush_all', $m->flush_all->{$s});
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
  out('delete', $m->delete('k'));
  out('delete.again', $m->delete('k'));

  # gets / cas
  out('set.c', $m->set('c', 'one'));
  my $cv = $m->gets('c');
  out('gets', casval($cv));
  out('cas.ok', $m->cas('c', $cv->[0], 'two'));
  out('cas.stale', $m->cas('c', $cv->[0], 'three'));
  out('cas.miss', $m->cas('nope', $cv->[0], 'x'));
  out('get.cas', $m->get('c'));
  out('gets.miss', casval($m->gets('nope')));

  # multi
  my @pairs = map { ["m:$_", "value-$_" x ($_ % 5)] } 0 .. 99;
  out('set_multi', [$m->set_multi(@pairs)]);
  out('add_multi', [$m->add_multi(['m:1', 'x'], ['m:new', 'n'])]);
  my @keys = ((map { "m:$_" } 0 .. 99), 'nope', 'm:new');
  out('get_multi', $m->get_multi(@keys));
  out('gets_multi', casmap($m->gets_multi('m:1', 'm:2', 'nope')));
  my $g = $m->gets_multi('m:3', 'm:4');
  out('cas_multi', [$m->cas_multi(['m:3', $g->{'m:3'}[0], 'new3'],
                                  ['m:4', $g->{'m:4'}[0] + 1000, 'new4'],
                                  ['nope', 1, 'x'])]);
  out('get_multi.after.cas', $m->get_multi('m:3', 'm:4'));
  out('delete_multi', [$m->delete_multi('m:1', 'm:2', 'nope')]);
  out('replace_multi', [$m->replace_multi(['m:5', 'r5'], ['nope', 'x'])]);
  out('append_multi', [$m->append_multi(['m:5', '+a'], ['nope', 'x'])]);
  out('prepend_multi', [$m->prepend_multi(['m:5', 'p+'], ['nope', 'x'])]);
  out('get.m5', $m->get('m:5'));

  # counters
  out('incr.miss', $m->incr('n'));
  out('set.n', $m->set('n', '10'));
  out('incr', $m->incr('n', 5));
  out('decr.floor', $m->decr('n', 100));
  out('incr.from0', $m->incr('n', 1000));
  out('decr.shorter', $m->decr('n', 1));
  out('get.decremented', $m->get('n'));
  out('set.max', $m->set('max', '18446744073709551615'));
  out('incr.wrap', $m->incr('max', 3));
  out('set.nan', $m->set('nan', 'abc'));
  out('incr.nan', $m->incr('nan', 1));
  out('get.nan', $m->get('nan'));
  out('set.spaces', $m->set('sp', ' 12'));
  out('incr.spaces', $m->incr('sp', 1));
  out('set.long', $m->set('ln', '123456789012345678901'));
  out('incr.long', $m->incr('ln', 1));
  out('incr_multi', [$m->incr_multi(['n', 10], 'max', ['nope', 3])]);
  out('decr_multi', [$m->decr_multi(['n', 1000], ['nope', 3])]);

  # touch / gat / gats
  out('touch', $m->touch('a1', 100));
  out('touch.miss', $m->touch('nope', 100));
  out('touch_multi', [$m->touch_multi(['a1', 100], ['nope', 100])]);
  out('gat', $m->gat(100, 'a1'));
  out('gat.miss', $m->gat(100, 'nope'));
  out('gats', casval($m->gats(100, 'a1')));
  out('gat_multi', $m->gat_multi(100, 'a1', 'm:6', 'nope'));
  out('gats_multi', casmap($m->gats_multi(100, 'a1', 'nope')));
  out('gat.expire', $m->gat(-1, 'a1'));
  out('get.after.gat.expire', $m->get('a1'));

  # expiry
  out('set.exp.negative', $m->set('e1', 'gone', -1));
  out('get.exp.negative', $m->get('e1'));
  out('set.exp.past.abs', $m->set('e2', 'gone', 60 * 60 * 24 * 30 + 1));
  out('get.exp.past.abs', $m->get('e2'));
  out('set.exp.future.abs', $m->set('e3', 'kept', time() + 3600));
  out('get.exp.future.abs', $m->get('e3'));

  # values: binary, empty, CR LF inside, sizes around the 1 MiB item limit
  out('set.binary', $m->set('b', "\0\r\n\xff END\r\n"));
  out('get.binary', $m->get('b'));
  out('set.empty', $m->set('e', ''));
  out('get.empty', $m->get('e'));
  out('set.ref', $m->set('r', {a => [1, 2]}));
  out('get.ref', $m->get('r'));
  out('set.key250', $m->set('k' x 250, 'long key'));
  out('get.key250', $m->get('k' x 250));
  my $near = join('', map { chr(($_ * 7) % 256) } 0 .. (1024 * 1024 - 1024 - 1));
  out('set.near.limit', $m->set('near', $near));
  out('get.near.limit', big($m->get('near')));
  out('set.small', $m->set('big', 'small'));
  out('set.too.big', $m->set('big', 'x' x (2 * 1024 * 1024)));
  out('get.after.too.big', $m->get('big'));
  out('get.after.error', $m->get('e3'));

  # nowait: requests in void context are sent with noreply and not waited for
  $m->set("nw:$_", "v$_") for 1 .. 50;
  $m->delete('nw:1');
  $m->incr('nw:missing');
  $m->add('nw:2', 'not stored');
  $m->replace('nw:3', 'replaced');
  $m->replace('nw:missing', 'x');
  $m->append('nw:4', '+a');
  $m->prepend('nw:4', 'p+');
  $m->append('nw:missing', 'x');
  $m->touch('nw:5', 100);
  $m->touch('nw:missing', 100);
  $m->set('nw:ctr', '10');
  $m->incr('nw:ctr', 5);
  $m->decr('nw:ctr', 1);
  $m->decr('nw:missing', 1);
  my $nwc = $m->gets('nw:6');
  $m->cas('nw:6', $nwc->[0], 'cas ok');
  $m->cas('nw:7', $nwc->[0], 'cas stale');
  $m->cas('nw:missing', $nwc->[0], 'x');
  $m->delete('nw:missing');
  $m->set('nw:10', 'x' x (2 * 1024 * 1024));  # too large: the server swallows it, silently
  $m->set('nw:11', 'after the large one');
  $m->set_multi(['nw:m1', 'one'], ['nw:m2', 'two']);
  $m->delete_multi('nw:8', 'nw:9');
  $m->nowait_push;
  my $nw = $m->get_multi((map { "nw:$_" } 1 .. 50), 'nw:ctr', 'nw:m1', 'nw:m2', 'nw:missing');
  out('nowait.count', scalar keys %$nw);
  out('nowait.values', $nw);

  out('versions', [values %{$m->server_versions}]);
  out('flush_all.end', $m->flush_all->{$s});
  out('get.flushed', $m->get('e3'));
  $m->disconnect_all;
}

sub classic {
  my ($port) = @_;
  my $m = Cache::Memcached->new({servers => ["127.0.0.1:$port"], connect_timeout => 2});
  out('flush_all', $m->flush_all);
  out('set', $m->set('k', 'hello'));
  out('get', $m->get('k'));
  out('add.exists', $m->add('k', 'x'));
  out('add.new', $m->add('a1', 'added', 3600));
  out('replace.miss', $m->replace('nope', 'x'));
  out('replace', $m->replace('k', 'world'));
  out('append', $m->append('k', '!'));
  out('prepend', $m->prepend('k', '>'));
  out('get.appended', $m->get('k'));
  out('set.ref', $m->set('r', {list => [1, 'two'], n => undef}));
  out('get.ref', $m->get('r'));
  out('set_some', [map { $m->set("m:$_", "v$_", $_ % 2 ? 0 : 3600) } 0 .. 199]);
  out('get_multi', $m->get_multi((map { "m:$_" } 0 .. 199), 'nope', 'r'));
  out('delete', $m->delete('k'));
  out('delete.again', $m->delete('k'));
  out('delete.time0', $m->delete('m:0', 0));
  out('delete.time', $m->delete('m:1', 10));
  out('get.after.delete.time', $m->get('m:1'));
  out('incr.miss', $m->incr('n'));
  out('set.n', $m->set('n', 5));
  out('incr', $m->incr('n', 10));
  out('decr', $m->decr('n', 11));
  out('decr.floor', $m->decr('n', 11));
  out('incr.nan', $m->incr('k2'));
  out('set.nan', $m->set('k2', 'text'));
  out('incr.nan.existing', $m->incr('k2'));
  out('set.too.big', $m->set('big', 'y' x (2 * 1024 * 1024)));
  out('get.after.too.big', $m->get('big'));
  my $st = $m->stats(['misc']);
  my $misc = $st->{hosts}{"127.0.0.1:$port"}{misc} || {};
  out('stats.has', {map { $_ => exists $misc->{$_} ? 1 : 0 }
                    qw(pid uptime version curr_items total_items cmd_get get_hits threads)});
  out('stats.version', $misc->{version});
  out('stats.malloc', $m->stats(['malloc'])->{hosts});
  out('flush_all.end', $m->flush_all);
  out('get.flushed', $m->get('a1'));
  $m->disconnect_all;
}

sub anyevent {
  my ($port) = @_;
  my $m = AnyEvent::Memcached->new(servers => ["127.0.0.1:$port"], cas => 1, timeout => 5,
                                   compress_enable => 0);
  my %r;
  my $cv = AE::cv;
  $cv->begin;
  $m->set('ae:del', 'to delete', cb => sub { $r{'set.del'} = [@_]; $cv->end });
  for my $i (1 .. 200) {
    $cv->begin;
    $m->set("ae:$i", "v$i" x ($i % 7), cb => sub { $r{sprintf 'set.%03d', $i} = [@_]; $cv->end });
  }
  $cv->recv;
  $cv = AE::cv;
  for my $i (1 .. 200) {
    $cv->begin;
    $m->get('ae:' . ($i * 3 % 250), cb => sub { $r{sprintf 'get.%03d', $i} = [@_]; $cv->end });
  }
  $cv->begin;
  $m->get([map { "ae:$_" } 190 .. 210], cb => sub { $r{'get.multi'} = [@_]; $cv->end });
  $cv->begin;
  $m->incr('ae:ctr', 1, cb => sub { $r{'incr.miss'} = [@_]; $cv->end });
  $cv->begin;
  $m->add('ae:1', 'x', cb => sub { $r{'add.exists'} = [@_]; $cv->end });
  $cv->begin;
  $m->delete('ae:del', cb => sub { $r{'delete'} = [@_]; $cv->end });
  $cv->begin;
  $m->delete('ae:none', cb => sub { $r{'delete.miss'} = [@_]; $cv->end });
  $cv->begin;
  $m->gets('ae:3', cb => sub { $r{'gets'} = [casval($_[0]), $_[1]]; $cv->end });
  $cv->recv;
  out($_, $r{$_}) for sort keys %r;
}

for my $arg (@ARGV) {
  my ($l, $spec) = split /=/, $arg, 2;
  my ($kind, $port) = split /:/, $spec;
  $label = $l;
  if ($kind eq 'fast') {
    fast($port);
  } elsif ($kind eq 'classic') {
    classic($port);
  } elsif ($kind eq 'anyevent') {
    anyevent($port);
  } else {
    die "unknown kind $kind";
  }
}
