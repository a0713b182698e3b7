// Drives Go's gomemcache (Debian's golang-github-bradfitz-gomemcache-dev, text protocol)
// against one or more servers and prints every result as "<label> <case> = <value>", one
// line each, in a fixed order. The pytest module (tests/clients/test_cli_go.py) builds it in
// GOPATH mode into a temporary directory, runs it against memcached 1.6.18 and mcbridge and
// compares the lines. CAS ids, ports and timings are never printed.
//
// Arguments: <label>=<port> ...
package main

import (
	"crypto/sha256"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

var label string

func out(name string, v interface{}) {
	fmt.Printf("%s %s = %s\n", label, name, format(v))
}

func format(v interface{}) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case error:
		return "error " + fmt.Sprintf("%q", x.Error())
	case []byte:
		if len(x) > 64 {
			return fmt.Sprintf("bytes(%d, %x)", len(x), sha256.Sum256(x))
		}
		return fmt.Sprintf("%q", x)
	case *memcache.Item:
		if x == nil {
			return "nil"
		}
		return fmt.Sprintf("item(%s, flags %d, %s)", x.Key, x.Flags, format(x.Value))
	case map[string]*memcache.Item:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, k+": "+format(x[k]))
		}
		s := "{" + strings.Join(parts, ", ") + "}"
		if len(s) > 400 {
			return fmt.Sprintf("map(%d entries, %x)", len(x), sha256.Sum256([]byte(s)))
		}
		return s
	default:
		return fmt.Sprintf("%v", x)
	}
}

// The value, or the error if there is one.
func r(v interface{}, err error) interface{} {
	if err != nil {
		return err
	}
	return v
}

func get(c *memcache.Client, key string) interface{} {
	it, err := c.Get(key)
	return r(it, err)
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1103515245 + 12345
		b[i] = byte(x >> 16)
	}
	return b
}

func run(port string) {
	c := memcache.New("127.0.0.1:" + port)
	c.Timeout = 10 * time.Second

	out("flush", c.FlushAll())
	out("set", c.Set(&memcache.Item{Key: "k", Value: []byte("hello")}))
	out("get", get(c, "k"))
	out("get.miss", get(c, "nope"))
	out("add.exists", c.Add(&memcache.Item{Key: "k", Value: []byte("x")}))
	out("add.new", c.Add(&memcache.Item{Key: "a1", Value: []byte("added"), Expiration: 3600}))
	out("replace.miss", c.Replace(&memcache.Item{Key: "nope", Value: []byte("x")}))
	out("replace", c.Replace(&memcache.Item{Key: "k", Value: []byte("world")}))
	out("get.replaced", get(c, "k"))
	out("delete", c.Delete("k"))
	out("delete.again", c.Delete("k"))

	// flags are 32 bits
	for _, f := range []uint32{0, 1, 0xffff, 0x10000, 0x7fffffff, 0xffffffff} {
		key := fmt.Sprintf("f:%d", f)
		out("set.flags."+fmt.Sprint(f), c.Set(&memcache.Item{Key: key, Value: []byte("v"), Flags: f}))
		out("get.flags."+fmt.Sprint(f), get(c, key))
	}

	// gets (Get reads the CAS id) / cas
	out("set.c", c.Set(&memcache.Item{Key: "c", Value: []byte("one")}))
	it, err := c.Get("c")
	out("gets", r(it, err))
	if it != nil {
		it.Value = []byte("two")
		out("cas.ok", c.CompareAndSwap(it))
		it.Value = []byte("three")
		out("cas.stale", c.CompareAndSwap(it))
		out("delete.c", c.Delete("c"))
		out("cas.deleted", c.CompareAndSwap(it))
	}
	out("get.cas", get(c, "c"))

	// GetMulti: one "gets" with many keys
	keys := []string{}
	for i := 0; i < 300; i++ {
		k := fmt.Sprintf("m:%d:%s", i, strings.Repeat("k", i%60))
		keys = append(keys, k)
		if i%4 != 0 {
			c.Set(&memcache.Item{Key: k, Value: []byte(strings.Repeat("v", i)), Flags: uint32(i)})
		}
	}
	m, err := c.GetMulti(keys)
	out("getmulti", r(m, err))
	out("getmulti.count", len(m))
	m, err = c.GetMulti([]string{"m:1:k", "nope", "m:1:k"})
	out("getmulti.dup", r(m, err))

	// counters
	out("incr.miss", r(c.Increment("n", 1)))
	out("set.n", c.Set(&memcache.Item{Key: "n", Value: []byte("10")}))
	out("incr", r(c.Increment("n", 5)))
	out("decr.floor", r(c.Decrement("n", 100)))
	out("incr.from0", r(c.Increment("n", 1000)))
	out("decr.shorter", r(c.Decrement("n", 1)))
	out("get.decremented", get(c, "n"))
	out("set.max", c.Set(&memcache.Item{Key: "max", Value: []byte("18446744073709551615")}))
	out("incr.wrap", r(c.Increment("max", 2)))
	out("incr.big.delta", r(c.Increment("n", 18446744073709551615)))
	out("set.nan", c.Set(&memcache.Item{Key: "nan", Value: []byte("12abc")}))
	out("incr.nan", r(c.Increment("nan", 1)))
	out("set.neg", c.Set(&memcache.Item{Key: "neg", Value: []byte("-5")}))
	out("incr.neg", r(c.Increment("neg", 1)))
	out("set.padded", c.Set(&memcache.Item{Key: "pad", Value: []byte("7   ")}))
	out("incr.padded", r(c.Increment("pad", 1)))
	out("get.padded", get(c, "pad"))

	// touch
	out("touch", c.Touch("a1", 100))
	out("touch.miss", c.Touch("nope", 100))
	out("touch.expire", c.Touch("a1", -1))
	out("get.touch.expired", get(c, "a1"))

	// expiry
	now := int32(time.Now().Unix())
	setExp := func(key, value string, exp int32) error {
		return c.Set(&memcache.Item{Key: key, Value: []byte(value), Expiration: exp})
	}
	out("set.exp.negative", setExp("e1", "gone", -1))
	out("get.exp.negative", get(c, "e1"))
	out("set.exp.past.abs", setExp("e2", "gone", 2592001)) // a Unix time long past
	out("get.exp.past.abs", get(c, "e2"))
	out("set.exp.future.abs", setExp("e3", "kept", now+3600))
	out("get.exp.future.abs", get(c, "e3"))

	// values and keys
	out("set.binary", c.Set(&memcache.Item{Key: "b", Value: []byte("\x00\r\nEND\r\n\xff")}))
	out("get.binary", get(c, "b"))
	out("set.empty", c.Set(&memcache.Item{Key: "empty", Value: []byte{}}))
	out("get.empty", get(c, "empty"))
	long := strings.Repeat("x", 250)
	out("set.key250", c.Set(&memcache.Item{Key: long, Value: []byte("long")}))
	out("get.key250", get(c, long))
	out("set.key.utf8", c.Set(&memcache.Item{Key: "ключ", Value: []byte("значение")}))
	out("get.key.utf8", get(c, "ключ"))
	out("set.near.limit", c.Set(&memcache.Item{Key: "near", Value: pattern(1024*1024-1024, 1)}))
	out("get.near.limit", get(c, "near"))
	out("set.too.big", c.Set(&memcache.Item{Key: "near", Value: pattern(2*1024*1024, 2)}))
	out("get.after.too.big", get(c, "near"))
	out("get.after.error", get(c, "e3"))

	concurrent(c)

	out("deleteall", c.DeleteAll())
	out("get.after.deleteall", get(c, "e3"))
}

// Goroutines sharing the client's connection pool (several connections at once): every one
// reads back what it wrote, and a shared counter counts every increment.
func concurrent(c *memcache.Client) {
	out("conc.set.ctr", c.Set(&memcache.Item{Key: "conc:ctr", Value: []byte("0")}))
	var wg sync.WaitGroup
	var mu sync.Mutex
	problems := map[string]int{}
	note := func(what string) {
		mu.Lock()
		problems[what]++
		mu.Unlock()
	}
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 60; i++ {
				key := fmt.Sprintf("conc:%d:%d", g, i%7)
				val := []byte(fmt.Sprintf("%d-%d-%s", g, i, strings.Repeat("z", (g*i)%3000)))
				if err := c.Set(&memcache.Item{Key: key, Value: val, Flags: uint32(g)}); err != nil {
					note("set " + err.Error())
				}
				it, err := c.Get(key)
				if err != nil {
					note("get " + err.Error())
				} else if string(it.Value) != string(val) || it.Flags != uint32(g) {
					note("get wrong value")
				}
				if _, err := c.Increment("conc:ctr", 1); err != nil {
					note("incr " + err.Error())
				}
			}
		}(g)
	}
	wg.Wait()
	out("conc.problems", fmt.Sprint(problems))
	out("conc.ctr", get(c, "conc:ctr"))
}

func main() {
	for _, arg := range os.Args[1:] {
		parts := strings.SplitN(arg, "=", 2)
		label = parts[0]
		run(parts[1])
	}
}
