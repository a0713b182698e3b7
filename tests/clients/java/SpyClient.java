// Drives spymemcached (Debian's libspymemcached-java) against one or more servers and prints
// every result as "<label> <case> = <value>", one line each, in a fixed order. The pytest module
// (tests/clients/test_cli_java.py) runs it once against memcached 1.6.18 and mcbridge and
// compares the lines. CAS ids, ports and timings are never printed: only what a client sees.
//
// Arguments: <label>=<kind>:<port>[:<user>:<password>] ..., kind is
//   text    ASCII protocol
//   binary  binary protocol
//   text-opt, binary-opt  the same with queued gets merged into multi-gets
//   sasl    binary protocol with SASL PLAIN (AuthDescriptor + PlainCallbackHandler)
//   saslbad the same with a wrong password (a second client with the right one checks that
//           nothing was written)

import java.io.PrintStream;
import java.io.Serializable;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.logging.Level;
import java.util.logging.Logger;
import net.spy.memcached.CASResponse;
import net.spy.memcached.CASValue;
import net.spy.memcached.ConnectionFactoryBuilder;
import net.spy.memcached.FailureMode;
import net.spy.memcached.MemcachedClient;
import net.spy.memcached.auth.AuthDescriptor;
import net.spy.memcached.auth.PlainCallbackHandler;
import net.spy.memcached.internal.OperationFuture;

public final class SpyClient {
  private static final PrintStream OUT = System.out;
  private static String label = "";

  public static void main(String[] args) throws Exception {
    System.setProperty("net.spy.log.LoggerImpl", "net.spy.memcached.compat.log.SunLogger");
    Logger.getLogger("net.spy.memcached").setLevel(Level.SEVERE);
    for (String arg : args) {
      String[] lk = arg.split("=", 2);
      String[] parts = lk[1].split(":");
      label = lk[0];
      // "-opt": spymemcached merges queued gets into multi-gets (setShouldOptimize).
      boolean optimize = parts[0].endsWith("-opt");
      String kind = parts[0].replace("-opt", "");
      int port = Integer.parseInt(parts[1]);
      boolean binary = !kind.equals("text");
      ConnectionFactoryBuilder b = new ConnectionFactoryBuilder()
          .setProtocol(binary ? ConnectionFactoryBuilder.Protocol.BINARY
                              : ConnectionFactoryBuilder.Protocol.TEXT)
          .setOpTimeout(kind.equals("saslbad") ? 800 : 10000)
          // Not Cancel: it drops the requests made before the connection is up.
          .setFailureMode(FailureMode.Retry)
          .setShouldOptimize(optimize)
          .setDaemon(true);
      if (kind.startsWith("sasl")) {
        String password = kind.equals("saslbad") ? "wrong-" + parts[3] : parts[3];
        b.setAuthDescriptor(new AuthDescriptor(new String[] {"PLAIN"},
                                               new PlainCallbackHandler(parts[2], password)));
      }
      MemcachedClient c = client(b, port);
      try {
        switch (kind) {
          case "text":
            common(c, false);
            textOnly(c);
            textErrors(b, port);
            break;
          case "binary":
            common(c, true);
            binaryOnly(c);
            break;
          case "sasl":
            sasl(c);
            break;
          case "saslbad": {
            ConnectionFactoryBuilder gb = new ConnectionFactoryBuilder()
                .setProtocol(ConnectionFactoryBuilder.Protocol.BINARY)
                .setOpTimeout(10000)
                .setFailureMode(FailureMode.Retry)
                .setDaemon(true)
                .setAuthDescriptor(new AuthDescriptor(
                    new String[] {"PLAIN"}, new PlainCallbackHandler(parts[2], parts[3])));
            MemcachedClient good = client(gb, port);
            try {
              saslRefused(c, good);
            } finally {
              good.shutdown();
            }
            break;
          }
          default:
            throw new IllegalArgumentException("unknown kind " + kind);
        }
      } finally {
        c.shutdown();
      }
    }
    OUT.flush();
  }

  // ------------------------------------------------------------------ output

  private static void p(String name, Callable<Object> op) {
    String v;
    try {
      v = fmt(op.call());
    } catch (Throwable t) {
      v = "exception " + describe(t);
    }
    OUT.println(label + " " + name + " = " + v);
  }

  private static String describe(Throwable t) {
    while (t.getCause() != null
           && (t instanceof java.util.concurrent.ExecutionException
               || t instanceof RuntimeException && t.getMessage() != null
                      && t.getMessage().startsWith("Exception waiting"))) {
      t = t.getCause();
    }
    String m = t.getMessage() == null ? "" : t.getMessage();
    // Messages may name the node (address, port) and timings: keep the first words only.
    m = m.replaceAll("(?s)(waited|Node status|Connection Status|/127).*", "").trim();
    return t.getClass().getSimpleName() + (m.isEmpty() ? "" : " " + m);
  }

  /** A future's boolean result and the server's status message. */
  private static String st(OperationFuture<Boolean> f) throws Exception {
    Boolean ok = f.get();
    return ok + " " + f.getStatus().getMessage();
  }

  private static String fmt(Object v) throws Exception {
    if (v == null) {
      return "null";
    }
    if (v instanceof String) {
      String s = (String) v;
      if (s.length() > 64) {
        return "string(" + s.length() + " chars, " + digest(s.getBytes(StandardCharsets.UTF_8))
            + ")";
      }
      return "'" + s.replace("\r", "\\r").replace("\n", "\\n") + "'";
    }
    if (v instanceof byte[]) {
      byte[] a = (byte[]) v;
      return "bytes(" + a.length + ", " + digest(a) + ")";
    }
    if (v instanceof CASValue) {
      return "CASValue(" + fmt(((CASValue<?>) v).getValue()) + ")";
    }
    if (v instanceof Map) {
      StringBuilder sb = new StringBuilder("{");
      for (Map.Entry<?, ?> e : new TreeMap<Object, Object>((Map<?, ?>) v).entrySet()) {
        if (sb.length() > 1) {
          sb.append(", ");
        }
        sb.append(e.getKey()).append(": ").append(fmt(e.getValue()));
      }
      String s = sb.append("}").toString();
      return s.length() > 400 ? "map(" + ((Map<?, ?>) v).size() + " entries, "
                                    + digest(s.getBytes(StandardCharsets.UTF_8)) + ")"
                              : s;
    }
    return v.getClass().getSimpleName() + " " + v;
  }

  private static String digest(byte[] data) throws Exception {
    byte[] d = MessageDigest.getInstance("SHA-256").digest(data);
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 6; i++) {
      sb.append(String.format("%02x", d[i]));
    }
    return sb.toString();
  }

  /** gets for a later cas; a failure prints a line and gives a CAS id no item has. */
  private static CASValue<Object> gets(MemcachedClient c, String key) {
    try {
      CASValue<Object> v = c.gets(key);
      if (v != null) {
        return v;
      }
    } catch (RuntimeException e) {
      OUT.println(label + " gets." + key + " = exception " + describe(e));
    }
    return new CASValue<Object>(0x7fffffffffffL, null);
  }

  private static byte[] randomBytes(int n, long seed) {
    byte[] a = new byte[n];
    new Random(seed).nextBytes(a);
    return a;
  }

  // ------------------------------------------------------------------ cases

  /** What both protocols support, in the same order. */
  private static void common(MemcachedClient c, boolean binary) throws Exception {
    p("flush", () -> st(c.flush()));
    p("set", () -> st(c.set("s1", 0, "hello")));
    p("get", () -> c.get("s1"));
    p("get.miss", () -> c.get("nope"));
    p("add.exists", () -> st(c.add("s1", 0, "x")));
    p("add.new", () -> st(c.add("a1", 0, "added")));
    p("get.added", () -> c.get("a1"));
    p("replace.miss", () -> st(c.replace("nope", 0, "x")));
    p("replace", () -> st(c.replace("s1", 0, "world")));
    p("append", () -> st(c.append("s1", "!")));
    p("prepend", () -> st(c.prepend("s1", ">")));
    p("get.appended", () -> c.get("s1"));
    p("append.miss", () -> st(c.append("nope", "!")));
    p("prepend.miss", () -> st(c.prepend("nope", "!")));
    p("delete", () -> st(c.delete("s1")));
    p("delete.again", () -> st(c.delete("s1")));
    p("get.deleted", () -> c.get("s1"));

    // Counters: values written as decimal strings (flags 0), as incr/decr need them.
    p("incr.miss", () -> c.incr("n", 1));
    p("decr.miss", () -> c.decr("n", 1));
    p("set.n", () -> st(c.set("n", 0, "10")));
    p("incr", () -> c.incr("n", 5));
    p("decr.floor", () -> c.decr("n", 20));
    p("incr.from0", () -> c.incr("n", 100));
    p("decr.shorter", () -> c.decr("n", 1));
    p("get.decremented", () -> c.get("n"));
    p("incr.default", () -> c.incr("d", 1, 100));
    p("incr.default.again", () -> c.incr("d", 1, 100));
    p("decr.default", () -> c.decr("dd", 1, 7));
    p("incr.default.exp", () -> c.incr("de", 2, 40, 3600));
    p("get.default.exp", () -> c.get("de"));
    p("set.max", () -> st(c.set("max", 0, "18446744073709551615")));
    p("incr.wrap", () -> c.incr("max", 2));
    if (binary) {
      nonNumeric(c, c);  // text: on a client of its own (see textErrors)
    }

    // gets / cas
    p("set.c", () -> st(c.set("c", 0, "one")));
    CASValue<Object> cv = gets(c, "c");
    p("gets", () -> cv);
    p("cas.ok", () -> c.cas("c", cv.getCas(), "two"));
    p("cas.stale", () -> c.cas("c", cv.getCas(), "three"));
    p("cas.miss", () -> c.cas("nope", cv.getCas(), "x"));
    p("get.cas", () -> c.get("c"));
    p("gets.miss", () -> c.gets("nope"));
    CASValue<Object> cv2 = gets(c, "c");
    p("cas.exp", () -> c.cas("c", cv2.getCas(), 3600, "four"));
    p("get.cas.exp", () -> c.get("c"));

    // Many keys at once: one multi-get (text) / a getq pipeline ending in noop (binary).
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < 400; i++) {
      String k = "bulk:" + i + ":" + "x".repeat(i % 40);
      keys.add(k);
      if (i % 3 != 0) {
        c.set(k, 0, "v" + i + "y".repeat(i % 50));
      }
    }
    p("getBulk", () -> c.getBulk(keys));
    p("getBulk.count", () -> c.getBulk(keys).size());
    p("getBulk.few", () -> c.getBulk("bulk:1:x", "bulk:3:xxx", "bulk:2:xx", "nope"));
    p("getBulk.dup", () -> c.getBulk("bulk:1:x", "bulk:1:x"));

    // touch
    p("touch", () -> st(c.touch("a1", 3600)));
    p("touch.miss", () -> st(c.touch("nope", 3600)));
    p("get.touched", () -> c.get("a1"));

    // Expiry: negative = expired at once; > 30 days = a Unix time (past or future).
    long now = System.currentTimeMillis() / 1000;
    p("set.exp.negative", () -> st(c.set("e1", -1, "gone")));
    p("get.exp.negative", () -> c.get("e1"));
    p("set.exp.past.abs", () -> st(c.set("e2", 60 * 60 * 24 * 30 + 1, "gone")));
    p("get.exp.past.abs", () -> c.get("e2"));
    p("set.exp.future.abs", () -> st(c.set("e3", (int) (now + 3600), "kept")));
    p("get.exp.future.abs", () -> c.get("e3"));
    p("set.exp.30days", () -> st(c.set("e4", 60 * 60 * 24 * 30, "kept")));
    p("get.exp.30days", () -> c.get("e4"));
    p("add.over.expired", () -> st(c.add("e1", 0, "again")));
    p("get.added.over.expired", () -> c.get("e1"));

    // The transcoder's types: flags carry the type, values round trip.
    p("set.int", () -> st(c.set("t:int", 0, 42)));
    p("get.int", () -> c.get("t:int"));
    p("set.long", () -> st(c.set("t:long", 0, 1L << 40)));
    p("get.long", () -> c.get("t:long"));
    p("set.bool", () -> st(c.set("t:bool", 0, Boolean.TRUE)));
    p("get.bool", () -> c.get("t:bool"));
    p("set.double", () -> st(c.set("t:double", 0, 2.5)));
    p("get.double", () -> c.get("t:double"));
    HashMap<String, Integer> map = new HashMap<>();
    map.put("a", 1);
    map.put("b", 2);
    p("set.object", () -> st(c.set("t:obj", 0, (Serializable) map)));
    p("get.object", () -> c.get("t:obj"));
    p("set.bytes", () -> st(c.set("t:bytes", 0, new byte[] {0, 13, 10, 1, (byte) 255})));
    p("get.bytes", () -> c.get("t:bytes"));
    p("set.empty", () -> st(c.set("t:empty", 0, "")));
    p("get.empty", () -> c.get("t:empty"));
    p("set.crlf", () -> st(c.set("t:crlf", 0, "a\r\nEND\r\nb")));
    p("get.crlf", () -> c.get("t:crlf"));
    p("set.utf8", () -> st(c.set("t:utf8", 0, "Grüße, 世界")));
    p("get.utf8", () -> c.get("t:utf8"));

    // Keys: the longest legal key, non-ASCII keys (UTF-8 on the wire).
    String longKey = "k".repeat(250);
    p("set.key250", () -> st(c.set(longKey, 0, "long key")));
    p("get.key250", () -> c.get(longKey));
    p("set.key.utf8", () -> st(c.set("ключ", 0, "значение")));
    p("get.key.utf8", () -> c.get("ключ"));
    p("getBulk.key.utf8", () -> c.getBulk("ключ", longKey));

    // Sizes: compressed (> 16 KiB strings are gzipped by the transcoder), incompressible,
    // just under 1 MiB, over the 1 MiB item limit.
    String big = "0123456789abcdef".repeat(8192);
    p("set.compressed", () -> st(c.set("z:big", 0, big)));
    p("get.compressed", () -> c.get("z:big"));
    byte[] rnd = randomBytes(600 * 1024, 1);
    p("set.600k", () -> st(c.set("z:rnd", 0, rnd)));
    p("get.600k", () -> c.get("z:rnd"));
    byte[] nearLimit = randomBytes(1024 * 1024 - 1024, 2);
    p("set.near.limit", () -> st(c.set("z:near", 0, nearLimit)));
    p("get.near.limit", () -> c.get("z:near"));
    if (binary) {
      tooBig(c, c);  // text: each on a client of its own (see textErrors)
      tooBigExisting(c, c);
    }

    pipelined(c);

    p("versions", () -> new TreeSet<>(c.getVersions().values()));
    p("stats.has", () -> {
      Map<String, String> s = c.getStats().values().iterator().next();
      TreeMap<String, Boolean> has = new TreeMap<>();
      for (String k : Arrays.asList("pid", "uptime", "version", "curr_items", "total_items",
                                    "cmd_get", "cmd_set", "get_hits", "get_misses",
                                    "curr_connections", "threads")) {
        has.put(k, s.containsKey(k));
      }
      return has;
    });
    p("flush.end", () -> st(c.flush()));
    p("get.flushed", () -> c.get("a1"));
  }

  // On a text server's CLIENT_ERROR / SERVER_ERROR, spymemcached drops the connection and
  // cancels what is queued behind: in a text run, `c` is a client used for this one failing
  // request only, `after` another one for what follows.

  /** incr of a value that is not a 64-bit decimal number. */
  private static void nonNumeric(MemcachedClient c, MemcachedClient after) throws Exception {
    p("set.nan", () -> st(after.set("nan", 0, "abc")));
    p("incr.nan", () -> c.incr("nan", 1));
    p("get.nan", () -> after.get("nan"));
    p("set.toolong.number", () -> st(after.set("ln", 0, "123456789012345678901")));
  }

  /** A value over the 1 MiB item limit, new and over an existing item. */
  private static void tooBig(MemcachedClient c, MemcachedClient after) throws Exception {
    byte[] tooBig = randomBytes(2 * 1024 * 1024, 3);
    p("set.too.big", () -> st(c.set("z:huge", 0, tooBig)));
    p("get.too.big", () -> after.get("z:huge"));
    p("set.rnd", () -> st(after.set("z:rnd", 0, "small")));
  }

  private static void tooBigExisting(MemcachedClient c, MemcachedClient after)
      throws Exception {
    byte[] tooBig = randomBytes(2 * 1024 * 1024, 3);
    p("set.too.big.existing", () -> st(c.set("z:rnd", 0, tooBig)));
    p("get.after.too.big", () -> after.get("z:rnd"));
  }

  private static void textErrors(ConnectionFactoryBuilder b, int port) throws Exception {
    MemcachedClient after = client(b, port);
    try {
      MemcachedClient c = client(b, port);
      nonNumeric(c, after);
      c.shutdown();
      c = client(b, port);
      tooBig(c, after);
      c.shutdown();
      c = client(b, port);
      tooBigExisting(c, after);
      c.shutdown();
    } finally {
      after.shutdown();
    }
  }

  private static MemcachedClient client(ConnectionFactoryBuilder b, int port) throws Exception {
    return new MemcachedClient(
        b.build(), Collections.singletonList(new InetSocketAddress("127.0.0.1", port)));
  }

  /** Many requests queued before any reply is read (spymemcached writes them back to back and
   * merges queued gets into one multi-get), and multi-gets whose replies are far larger than
   * one read: replies must come back complete and in order. */
  private static void pipelined(MemcachedClient c) throws Exception {
    List<OperationFuture<Boolean>> sets = new ArrayList<>();
    for (int i = 0; i < 500; i++) {
      sets.add(c.set("p:" + i, 0, "v" + i + "w".repeat(i % 100)));
    }
    List<java.util.concurrent.Future<Object>> gets = new ArrayList<>();
    List<java.util.concurrent.Future<Long>> incrs = new ArrayList<>();
    c.set("p:ctr", 0, "0");
    for (int i = 0; i < 500; i++) {
      gets.add(c.asyncGet("p:" + (i * 7) % 600));
      if (i % 5 == 0) {
        incrs.add(c.asyncIncr("p:ctr", i));
      }
    }
    p("pipe.sets", () -> {
      StringBuilder sb = new StringBuilder();
      for (OperationFuture<Boolean> f : sets) {
        sb.append(st(f)).append(';');
      }
      return sb.toString();
    });
    p("pipe.gets", () -> {
      StringBuilder sb = new StringBuilder();
      for (java.util.concurrent.Future<Object> f : gets) {
        sb.append(fmt(f.get())).append(';');
      }
      return sb.toString();
    });
    p("pipe.incrs", () -> {
      StringBuilder sb = new StringBuilder();
      for (java.util.concurrent.Future<Long> f : incrs) {
        sb.append(f.get()).append(';');
      }
      return sb.toString();
    });
    List<String> bigKeys = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      String k = "pbig:" + i;
      bigKeys.add(k);
      c.set(k, 0, randomBytes(500 * 1024, 100 + i));
    }
    bigKeys.add("nope");
    p("pipe.bigBulk", () -> c.getBulk(bigKeys));
    List<java.util.concurrent.Future<Object>> bigGets = new ArrayList<>();
    for (String k : bigKeys) {
      bigGets.add(c.asyncGet(k));
    }
    p("pipe.bigGets", () -> {
      StringBuilder sb = new StringBuilder();
      for (java.util.concurrent.Future<Object> f : bigGets) {
        sb.append(fmt(f.get())).append(';');
      }
      return sb.toString();
    });
  }

  private static void textOnly(MemcachedClient c) throws Exception {
    p("text.set", () -> st(c.set("g", 0, "value")));
    p("text.getAndTouch", () -> c.getAndTouch("g", 100));
    p("text.delete.cas", () -> st(c.delete("g", 12345L)));
    p("text.get.after", () -> c.get("g"));
  }

  private static void binaryOnly(MemcachedClient c) throws Exception {
    p("bin.set", () -> st(c.set("g", 0, "value")));
    p("bin.getAndTouch", () -> c.getAndTouch("g", 100));
    p("bin.getAndTouch.miss", () -> c.getAndTouch("nope", 100));
    p("bin.getAndTouch.expire", () -> c.getAndTouch("g", -1));
    p("bin.get.after.gat.expire", () -> c.get("g"));

    p("bin.set.c", () -> st(c.set("bc", 0, "one")));
    CASValue<Object> cv = gets(c, "bc");
    p("bin.append.cas.ok", () -> st(c.append(cv.getCas(), "bc", "+two")));
    p("bin.append.cas.stale", () -> st(c.append(cv.getCas(), "bc", "+three")));
    CASValue<Object> cv2 = gets(c, "bc");
    p("bin.prepend.cas.ok", () -> st(c.prepend(cv2.getCas(), "bc", "zero+")));
    p("bin.get.c", () -> c.get("bc"));
    CASValue<Object> cv3 = gets(c, "bc");
    p("bin.delete.cas.stale", () -> st(c.delete("bc", cv3.getCas() + 1000)));
    p("bin.delete.cas.ok", () -> st(c.delete("bc", cv3.getCas())));
    p("bin.get.deleted", () -> c.get("bc"));

    p("bin.incr.default.exp", () -> c.incr("bn", 5, 1000, 3600));
    p("bin.incr.default.exp.again", () -> c.incr("bn", 5, 1000, 3600));
    p("bin.decr.default", () -> c.decr("bn2", 5, 3, 0));
    p("bin.decr.default.again", () -> c.decr("bn2", 5, 3, 0));
    p("bin.incr.default.expired", () -> c.incr("bn3", 5, 9, -1));
    p("bin.get.counter", () -> c.get("bn"));
    p("bin.touch.counter", () -> st(c.touch("bn", 10)));
    p("bin.async.getBulk", () -> c.asyncGetBulk("bn", "bn2", "bn3", "nope").get());
    p("bin.flush", () -> st(c.flush()));
    p("bin.get.flushed", () -> c.get("bn"));
  }

  private static void sasl(MemcachedClient c) throws Exception {
    p("sasl.flush", () -> st(c.flush()));
    p("sasl.set", () -> st(c.set("auth:k", 0, "secret value")));
    p("sasl.get", () -> c.get("auth:k"));
    p("sasl.add", () -> st(c.add("auth:k", 0, "x")));
    p("sasl.incr", () -> c.incr("auth:n", 2, 40, 0));
    p("sasl.incr.again", () -> c.incr("auth:n", 2, 40, 0));
    CASValue<Object> cv = gets(c, "auth:k");
    p("sasl.cas", () -> c.cas("auth:k", cv.getCas(), "changed"));
    p("sasl.getAndTouch", () -> c.getAndTouch("auth:k", 100));
    p("sasl.getBulk", () -> c.getBulk("auth:k", "auth:n", "nope"));
    p("sasl.delete", () -> st(c.delete("auth:k")));
    p("sasl.versions", () -> new TreeSet<>(c.getVersions().values()));
    // Last: listing the mechanisms makes memcached forget the connection's authentication
    // (the next command fails and spymemcached reconnects).
    p("sasl.mechs", () -> new TreeSet<>(c.listSaslMechanisms()));
  }

  /** `c` holds wrong credentials, `good` the right ones. What `c` gets (an exception, a
   * timeout, false, null: it depends on when spymemcached gives up) is printed as "refused"
   * when nothing was read or written; `good` then sees the items unchanged. */
  private static void saslRefused(MemcachedClient c, MemcachedClient good) throws Exception {
    p("saslbad.good.set", () -> st(good.set("auth:kept", 0, "kept")));
    p("saslbad.set", () -> refused(() -> c.set("auth:kept", 0, "overwritten").get()));
    p("saslbad.get", () -> refused(() -> c.get("auth:kept")));
    p("saslbad.good.get", () -> good.get("auth:kept"));
  }

  private static String refused(Callable<Object> op) {
    try {
      Object v = op.call();
      return v == null || Boolean.FALSE.equals(v) ? "refused" : "served " + fmt(v);
    } catch (Throwable t) {
      return "refused";
    }
  }
}
