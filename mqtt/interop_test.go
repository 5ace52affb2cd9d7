package mqtt_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hypha-iot/hypha/mqtt"
)

// mosquittoClients returns the paths of mosquitto_sub and mosquitto_pub,
// installing Debian's mosquitto-clients when missing and running as root.
// It never skips: without them the test fails and says how to get them.
func mosquittoClients(tb testing.TB) (sub, pub string) {
	tb.Helper()
	sub, err1 := exec.LookPath("mosquitto_sub")
	pub, err2 := exec.LookPath("mosquitto_pub")
	if err1 == nil && err2 == nil {
		return sub, pub
	}
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("apt-get"); err == nil {
			out, err := exec.Command("apt-get", "install", "-y", "-qq", "mosquitto-clients").CombinedOutput()
			if err != nil {
				out2, _ := exec.Command("apt-get", "update", "-qq").CombinedOutput()
				out3, err3 := exec.Command("apt-get", "install", "-y", "-qq", "mosquitto-clients").CombinedOutput()
				if err3 != nil {
					tb.Fatalf("install mosquitto-clients: %v\n%s\n%s\n%s", err3, out, out2, out3)
				}
			}
		}
	}
	sub, err1 = exec.LookPath("mosquitto_sub")
	pub, err2 = exec.LookPath("mosquitto_pub")
	if err1 != nil || err2 != nil {
		tb.Fatal("mosquitto_sub/mosquitto_pub not found: install Debian's mosquitto-clients (apt-get install -y mosquitto-clients)")
	}
	return sub, pub
}

// TestMosquittoInterop drives the broker with the reference Eclipse
// Mosquitto command-line clients, MQTT 5 and 3.1.1.
func TestMosquittoInterop(t *testing.T) {
	subBin, pubBin := mosquittoClients(t)
	dev, sender := testIdentity(1), testIdentity(2)
	// The mosquitto clients connect in real time: use the wall clock.
	e := newEnv(t, mqtt.Config{Clock: time.Now}, dev, sender)
	e.now = time.Now()
	host, port, _ := strings.Cut(e.b.Addr(), ":")
	common := func(version string, d identity) []string {
		return []string{"-h", host, "-p", port, "-V", version, "-u", d.user(), "-P", d.token(t, e.now)}
	}
	var stderr string
	run := func(bin string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		var out, errb bytes.Buffer
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		stderr = errb.String()
		if err != nil {
			return out.String(), fmt.Errorf("%s %v: %w: %s", filepath.Base(bin), args, err, errb.String())
		}
		return out.String(), nil
	}
	// background starts mosquitto_sub and returns its (locked) output.
	background := func(ctx context.Context, args ...string) (*exec.Cmd, *lockedBuffer) {
		out := &lockedBuffer{}
		cmd := exec.CommandContext(ctx, subBin, args...)
		cmd.Stdout = out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, out
	}
	for range 5 {
		e.fb.deliver(dev.id, sender.id, "hello")
	}

	t.Run("v5 inbox replay after cursor", func(t *testing.T) {
		args := append(common("mqttv5", dev), "-t", mqtt.InboxTopic(dev.id), "-q", "1",
			"-D", "subscribe", "user-property", mqtt.CursorProperty, fmt.Sprintf("%012d", 2),
			"-C", "3", "-W", "10", "-F", "%P|%p")
		out, err := run(subBin, args...)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 {
			t.Fatalf("output %q", out)
		}
		for i, l := range lines {
			prop, body, _ := strings.Cut(l, "|")
			want := fmt.Sprintf("%012d", i+3)
			ent, err := mqtt.DecodeEntry([]byte(body))
			if err != nil || ent.Cursor != want || prop != mqtt.CursorProperty+":"+want || string(ent.Box) != "hello" {
				t.Fatalf("line %d: %q (%v)", i, l, err)
			}
		}
	})
	t.Run("v3.1.1 inbox", func(t *testing.T) {
		out, err := run(subBin, append(common("mqttv311", dev), "-t", mqtt.InboxTopic(dev.id), "-C", "5", "-W", "10")...)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(out, `"kind":"msg"`); n != 5 {
			t.Fatalf("got %d entries: %q", n, out)
		}
	})
	for _, version := range []string{"mqttv5", "mqttv311"} {
		t.Run(version+" tx publish and result", func(t *testing.T) {
			dir := t.TempDir()
			txFile := filepath.Join(dir, "tx.cbor")
			if err := os.WriteFile(txFile, mustTx(t, dev, uint64(len(version))), 0o600); err != nil {
				t.Fatal(err)
			}
			// Subscribe first, in the background, then publish the tx
			// until the subscriber (which may not be ready yet) has a result.
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			sub, out := background(ctx, append(common(version, dev), "-t", mqtt.ResultTopic(dev.id), "-C", "1", "-W", "15")...)
			for out.Len() == 0 && ctx.Err() == nil {
				if _, err := run(pubBin, append(common(version, dev), "-t", mqtt.TxTopic(dev.id), "-q", "1", "-f", txFile)...); err != nil {
					t.Fatal(err)
				}
				time.Sleep(200 * time.Millisecond)
			}
			if err := sub.Wait(); err != nil {
				t.Fatalf("mosquitto_sub: %v", err)
			}
			var r mqtt.TxResult
			if err := json.Unmarshal([]byte(strings.TrimSpace(out.String())), &r); err != nil || r.Height == 0 || r.Error != nil {
				t.Fatalf("result %q: %v", out.String(), err)
			}
		})
	}
	t.Run("malformed tx gets 0x99 in the result", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
		defer cancel()
		sub, out := background(ctx, append(common("mqttv5", dev), "-t", mqtt.ResultTopic(dev.id), "-C", "1", "-W", "15")...)
		for out.Len() == 0 && ctx.Err() == nil {
			if _, err := run(pubBin, append(common("mqttv5", dev), "-t", mqtt.TxTopic(dev.id), "-q", "0", "-m", "not cbor")...); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		_ = sub.Wait()
		first, _, _ := strings.Cut(out.String(), "\n")
		var r mqtt.TxResult
		if err := json.Unmarshal([]byte(first), &r); err != nil || r.ReasonCode != 0x99 {
			t.Fatalf("result %q: %v", out.String(), err)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		bad := []string{"-h", host, "-p", port, "-V", "mqttv5", "-u", dev.user(), "-P", sender.token(t, e.now),
			"-t", mqtt.InboxTopic(dev.id), "-C", "1", "-W", "3"}
		if _, err := run(subBin, bad...); err == nil || !strings.Contains(strings.ToLower(err.Error()), "bad user name or password") {
			t.Fatalf("other identity's token: %v", err)
		}
		bad[5] = "mqttv311"
		if _, err := run(subBin, bad...); err == nil || !strings.Contains(strings.ToLower(err.Error()), "bad user name or password") {
			t.Fatalf("3.1.1 other identity's token: %v", err)
		}
		for _, v := range []string{"mqttv5", "mqttv311"} {
			for _, f := range []string{mqtt.InboxTopic(sender.id), "#", "hypha/v1/devices/+/inbox"} {
				out, _ := run(subBin, append(common(v, dev), "-t", f, "-C", "1", "-W", "2")...)
				if out != "" || !strings.Contains(stderr, "All subscription requests were denied") {
					t.Fatalf("%s SUBSCRIBE %s: stdout %q stderr %q", v, f, out, stderr)
				}
			}
		}
	})
}

// lockedBuffer is a bytes.Buffer safe for a subprocess to write while the
// test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
