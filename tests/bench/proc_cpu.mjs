// CPU time from Linux's /proc: of this process's descendants (the browser
// Playwright started: its renderer, GPU and utility processes), in ms,
// and of everything else on the machine (the noise of a shared host).
// Threads are summed from /proc/PID/task/TID/schedstat (nanoseconds;
// /proc/PID/stat counts 10 ms ticks, too coarse for a one-second sample).
// Threads that exit between two samples are missed: the runtimes' worker
// threads live as long as their page. Null where there is no /proc.
import fs from 'node:fs';

function read(file) {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null; // the process or thread has exited
  }
}

/** pid → parent pid of every process now. */
function parents() {
  const map = new Map();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = read(`/proc/${name}/stat`);
    // The command name (field 2) may hold spaces: fields after the last ')'.
    if (stat) map.set(+name, +stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  }
  return map;
}

/** Pids descending from `root`. */
function descendants(root) {
  const ppid = parents(), out = [];
  for (const pid of ppid.keys())
    for (let p = ppid.get(pid); p; p = ppid.get(p))
      if (p === root) { out.push(pid); break; }
  return out;
}

/** Total CPU time (ms) of the processes under `root` (default: this one), or null without /proc. */
export function treeCpuMs(root = process.pid) {
  if (!fs.existsSync('/proc/self/schedstat')) return null;
  let ns = 0;
  for (const pid of descendants(root)) {
    let tasks = [];
    try {
      tasks = fs.readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) ns += Number((read(`/proc/${pid}/task/${tid}/schedstat`) ?? '0').split(' ')[0]);
  }
  return ns / 1e6;
}

/** CPU time (ms) the whole machine spent busy or lost to the hypervisor
 * (steal), from /proc/stat (10 ms ticks, all cores), or null. */
function machineBusyMs() {
  const line = read('/proc/stat')?.split('\n')[0];
  if (!line) return null;
  // user nice system idle iowait irq softirq steal
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + steal) * 10;
}

/**
 * Starts measuring what other processes take from the machine → stop()
 * returns their mean load in cores over the interval: busy time of all
 * cores, minus this process (every thread) and its descendants, over
 * wall time. Null without /proc.
 */
export function otherLoad() {
  const ours = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000 + (treeCpuMs() ?? 0);
  };
  const b0 = machineBusyMs(), o0 = b0 === null ? null : ours(), t0 = performance.now();
  return () => (b0 === null ? null : Math.max(0, (machineBusyMs() - b0) - (ours() - o0)) / (performance.now() - t0));
}
