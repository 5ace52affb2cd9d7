package bench

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuSample is the machine's and this process's CPU time at one moment, to
// tell how much of the machine other processes took during a window: a
// benchmark sharing its CPUs with other work measures that work too.
type cpuSample struct {
	at         time.Time
	busy, all  time.Duration // machine-wide, from /proc/stat
	self       time.Duration // this process, user + system
	hasMachine bool
}

// clockTick is the unit of /proc/stat (USER_HZ, 100 on every Linux port
// Go supports).
const clockTick = 10 * time.Millisecond

func sampleCPU() cpuSample {
	s := cpuSample{at: time.Now()}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	f, err := os.Open("/proc/stat")
	if err != nil {
		return s
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return s
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 5 || fields[0] != "cpu" {
		return s
	}
	// user nice system idle iowait irq softirq steal ...
	for i, f := range fields[1:] {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return s
		}
		d := time.Duration(v) * clockTick
		s.all += d
		if i != 3 && i != 4 { // idle, iowait
			s.busy += d
		}
	}
	s.hasMachine = true
	return s
}

// othersShare is the share of the machine's CPU time that other processes
// used between a and b (0 when unknown).
func othersShare(a, b cpuSample) float64 {
	if !a.hasMachine || !b.hasMachine || b.all <= a.all {
		return 0
	}
	others := (b.busy - a.busy) - (b.self - a.self)
	return max(0, float64(others)/float64(b.all-a.all))
}
