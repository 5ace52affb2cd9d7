package mqtt_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/mqtt"
)

// rawConnect opens a bare MQTT 5 connection (no client library, so the
// test's own memory per connection is a net.Conn) and reads the CONNACK.
func rawConnect(tb testing.TB, addr, clientID, user, pass string) (net.Conn, *bufio.Reader) {
	tb.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	var vh []byte
	vh = append(vh, 0, 4, 'M', 'Q', 'T', 'T', 5, 0xC2, 0, 60, 0) // name, v5, user|pass|clean, keepalive 60, no props
	str := func(s string) { vh = binary.BigEndian.AppendUint16(vh, uint16(len(s))); vh = append(vh, s...) }
	str(clientID)
	str(user)
	str(pass)
	writePacket(tb, c, 0x10, vh)
	r := bufio.NewReaderSize(c, 64)
	typ, body := readPacket(tb, r)
	if typ != 0x20 || len(body) < 2 || body[1] != 0 {
		tb.Fatalf("CONNACK %x %x", typ, body)
	}
	return c, r
}

func rawSubscribe(tb testing.TB, c net.Conn, r *bufio.Reader, filter string, qos byte) {
	tb.Helper()
	b := []byte{0, 1, 0} // packet id 1, no props
	b = binary.BigEndian.AppendUint16(b, uint16(len(filter)))
	b = append(append(b, filter...), qos)
	writePacket(tb, c, 0x82, b)
	typ, body := readPacket(tb, r)
	if typ != 0x90 || body[len(body)-1] != qos {
		tb.Fatalf("SUBACK %x %x", typ, body)
	}
}

func writePacket(tb testing.TB, c net.Conn, typ byte, body []byte) {
	tb.Helper()
	p := []byte{typ}
	for n := len(body); ; {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		p = append(p, d)
		if n == 0 {
			break
		}
	}
	if _, err := c.Write(append(p, body...)); err != nil {
		tb.Fatal(err)
	}
}

func readPacket(tb testing.TB, r *bufio.Reader) (byte, []byte) {
	tb.Helper()
	typ, err := r.ReadByte()
	if err != nil {
		tb.Fatal(err)
	}
	n, mul := 0, 1
	for {
		d, err := r.ReadByte()
		if err != nil {
			tb.Fatal(err)
		}
		n += int(d&0x7f) * mul
		mul *= 128
		if d&0x80 == 0 {
			break
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		tb.Fatal(err)
	}
	return typ, body
}

func heapAndStacks() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc + m.StackInuse
}

// BenchmarkClientMemory connects 1,000 authenticated MQTT 5 clients (bare
// TCP on the test side) and reports the broker's heap and stack growth per
// client, idle and with an inbox subscription (one pump each).
func BenchmarkClientMemory(b *testing.B) {
	const n = 1000
	for _, subscribe := range []bool{false, true} {
		b.Run(fmt.Sprintf("subscribed=%v", subscribe), func(b *testing.B) {
			dev := testIdentity(1)
			e := newEnv(b, mqtt.Config{RecheckInterval: -1}, dev)
			tok := dev.token(b, e.now)
			var perClient float64
			for i := 0; b.Loop(); i++ {
				before := heapAndStacks()
				conns := make([]net.Conn, 0, n)
				for j := range n {
					c, r := rawConnect(b, e.b.Addr(), fmt.Sprintf("c-%d-%d", i, j), dev.user(), tok)
					if subscribe {
						rawSubscribe(b, c, r, mqtt.InboxTopic(dev.id), 0)
					}
					conns = append(conns, c)
				}
				after := heapAndStacks()
				perClient = float64(int64(after)-int64(before)) / n
				for _, c := range conns {
					c.Close()
				}
				time.Sleep(200 * time.Millisecond) // let the broker drop them
			}
			b.ReportMetric(perClient, "B/client")
		})
	}
}

// BenchmarkInboxDeliver measures inbox entries committed (fake backend) to
// received by one MQTT 5 subscriber, at QoS 0 and 1.
func BenchmarkInboxDeliver(b *testing.B) {
	for _, qos := range []byte{0, 1} {
		b.Run(fmt.Sprintf("qos%d", qos), func(b *testing.B) {
			dev, sender := testIdentity(1), testIdentity(2)
			e := newEnv(b, mqtt.Config{RecheckInterval: -1}, dev, sender)
			c := mustV5(b, e, dev, v5Opts{})
			c.subscribe(b, mqtt.InboxTopic(dev.id), qos, nil)
			start := time.Now()
			got := 0
			for b.Loop() {
				e.fb.deliver(dev.id, sender.id, "0123456789abcdef0123456789abcdef")
				got++
				// Drain as we go so the recorder never fills.
				for {
					select {
					case <-c.rec.ch:
						got--
						continue
					default:
					}
					break
				}
			}
			for got > 0 {
				c.rec.next(b, 10*time.Second)
				got--
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
		})
	}
}
