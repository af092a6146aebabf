package loadbench

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of /proc/stat: USER_HZ, 100 on every Linux
// architecture Go supports.
const clockTick = 10 * time.Millisecond

// machineCPU is the machine's CPU time so far, in clock ticks, summed over
// all its CPUs: busy (user, nice, system, irq, softirq, steal) and total
// (busy plus idle and iowait).
type machineCPU struct{ busy, total int64 }

// readMachineCPU reads the first line of /proc/stat (proc(5)). false where
// there is none (not Linux) or it cannot be read.
func readMachineCPU() (machineCPU, bool) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return machineCPU{}, false
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return machineCPU{}, false
	}
	return parseProcStat(line)
}

// parseProcStat reads "cpu user nice system idle iowait irq softirq steal
// [guest guest_nice]". guest time is already counted in user (proc(5)).
func parseProcStat(line string) (machineCPU, bool) {
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return machineCPU{}, false
	}
	var v [8]int64
	for i := range v {
		n, err := strconv.ParseInt(fields[i+1], 10, 64)
		if err != nil || n < 0 {
			return machineCPU{}, false
		}
		v[i] = n
	}
	busy := v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
	return machineCPU{busy: busy, total: busy + v[3] + v[4]}, true
}
