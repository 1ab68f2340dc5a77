#!/usr/bin/env python3
"""Executes the jobs of a workflow written by `relengine export github-actions` on this machine, the
way GitHub's runners would, for tests/e2e/github_test.cc:

- jobs in `needs:` order (file order among equals), each on a "runner" of its own: a fresh
  workspace and a fresh runner.temp, so nothing travels between jobs but what the workflow carries
  (the state artifact, or the PostgreSQL store);
- a job's `if:` evaluated with the status functions (failure(), cancelled(), always(), success())
  over the jobs it needs, directly or not, and `inputs`; without one, it runs when every job it
  needs succeeded; a step runs when no step before it failed, unless its `if` is always();
- `${{ }}` in env values, `with:` and `run:` substituted from inputs (the workflow's defaults
  applied), secrets, github.* and runner.temp;
- `uses:` actions/checkout is CHECKOUT (a shell command run with WS set to the workspace),
  actions/upload-artifact and download-artifact copy a directory to and from ARTIFACTS/NAME
  (download of a missing one fails, as on GitHub), and any other action (relengine's own) puts
  the directory of the built relengine on PATH;
- `run:` under `bash --noprofile --norc -eo pipefail`, as GitHub's `shell: bash`, in its own
  process group;
- `environment:` is an approval by --reviewer, logged.

--kill JOB PATH REGEX kills (SIGKILL, every process it started) JOB's running step once the file
PATH holds a line matching REGEX, as a runner that dies would: the job fails. Results are kept in
WORK/results.json; --rerun-failed runs the failed and skipped jobs again (GitHub's "Re-run failed
jobs"), the others keep their results.

Exit status: 0 when every job succeeded or was skipped by its `if`, 1 otherwise.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import yaml


def load_workflow(path):
    with open(path) as f:
        doc = yaml.safe_load(f)
    if True in doc:  # YAML 1.1 reads the key `on` as a boolean
        doc["on"] = doc.pop(True)
    return doc


def order_jobs(jobs):
    names = list(jobs)
    done, out = set(), []
    while len(out) < len(names):
        ready = [n for n in names if n not in done and all(d in done for d in needs_of(jobs[n]))]
        if not ready:
            raise SystemExit("run_workflow: the jobs' needs have a cycle")
        out.append(ready[0])
        done.add(ready[0])
    return out


def needs_of(job):
    n = job.get("needs", [])
    return [n] if isinstance(n, str) else list(n)


class Context:
    def __init__(self, inputs, secrets, github, runner_temp):
        self.inputs, self.secrets, self.github, self.runner_temp = inputs, secrets, github, runner_temp
        self.steps = {}  # step id -> outcome (success, failure, skipped), as steps.ID.outcome

    def value(self, ref):
        parts = ref.split(".")
        if parts[0] == "inputs":
            return self.inputs.get(parts[1], "")
        if parts[0] == "secrets":
            return self.secrets.get(parts[1], "")
        if parts[0] == "github":
            return self.github[parts[1]]
        if parts[0] == "steps" and parts[2] == "outcome":
            return self.steps.get(parts[1], "")
        if parts[0] == "runner" and parts[1] == "temp":
            return self.runner_temp
        raise SystemExit("run_workflow: unknown context " + ref)


TOKEN = re.compile(r"\s*(\(|\)|!=|==|!|&&|\|\||'[^']*'|[A-Za-z_][A-Za-z0-9_.-]*(\(\))?)")


def evaluate(expr, ctx, status):
    """An expression of the forms the export writes: refs, literals, !, &&, ||, ==, !=, (), and the
    status functions."""
    out, pos = [], 0
    expr = expr.strip()
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if not m:
            raise SystemExit("run_workflow: cannot read the expression " + expr)
        tok = m.group(1)
        pos = m.end()
        if tok in ("(", ")"):
            out.append(tok)
        elif tok == "!":
            out.append(" not ")
        elif tok == "&&":
            out.append(" and ")
        elif tok == "||":
            out.append(" or ")
        elif tok in ("==", "!="):
            out.append(" " + tok + " ")
        elif tok.startswith("'"):
            out.append(repr(tok[1:-1]))
        elif tok in ("true", "false"):
            out.append(tok.capitalize())
        elif tok.endswith("()"):
            out.append(repr(status[tok[:-2]]))
        else:
            v = ctx.value(tok)
            out.append(repr(v))
    return eval("".join(out), {"__builtins__": {}}, {})


def substitute(text, ctx):
    def one(m):
        v = evaluate(m.group(1), ctx, {})
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v)

    return re.sub(r"\$\{\{(.*?)\}\}", one, text)


def condition(text, ctx, status):
    text = str(text).strip()
    m = re.fullmatch(r"\$\{\{(.*)\}\}", text, re.S)
    return bool(evaluate(m.group(1) if m else text, ctx, status))


def kill_tree(root):
    """SIGKILL to `root` and every process below it, also those in process groups of their own
    (relengine's steps), as a runner's death ends everything the job started: all are stopped
    first, so that none is re-parented out of reach meanwhile. Not the remote's side of a push
    (git-receive-pack, its hooks): the remote is another machine, which a runner's death does
    not stop (killed with the pusher, it could leave a ref's .lock behind, and the re-run's
    push of that ref would then fail, as it never would against GitHub)."""
    parent, remote = {}, set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                stat = open("/proc/%s/stat" % pid).read()
                parent[int(pid)] = int(stat[stat.rfind(")") + 2:].split()[1])
                argv = open("/proc/%s/cmdline" % pid, "rb").read().split(b"\0")
                if any(a.endswith(b"receive-pack") for a in argv[:2]):
                    remote.add(int(pid))
            except (OSError, ValueError, IndexError):
                pass
    tree, pending = [], [root]
    while pending:
        p = pending.pop()
        tree.append(p)
        pending.extend(c for c, pp in parent.items() if pp == p and c not in remote)
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for p in tree:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass


def run_step_process(script, cwd, env, log, kill):
    path = os.path.join(env["RUNNER_TEMP"], "step-%d.sh" % time.monotonic_ns())
    with open(path, "w") as f:
        f.write(script)
    proc = subprocess.Popen(["bash", "--noprofile", "--norc", "-eo", "pipefail", path], cwd=cwd, env=env,
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 600
    while True:
        rc = proc.poll()
        if rc is not None:
            return rc
        if kill and os.path.exists(kill[0]) and re.search(kill[1], open(kill[0]).read(), re.M):
            kill_tree(proc.pid)
            proc.wait()
            log.write(b"\n[run_workflow] the runner died: SIGKILL to the step's process group\n")
            return -9
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return -1
        time.sleep(0.02)


def run_job(name, job, wf, a, ctx_for, log):
    job_dir = os.path.join(a.work, "jobs", name)
    shutil.rmtree(job_dir, ignore_errors=True)
    ws, temp = os.path.join(job_dir, "ws"), os.path.join(job_dir, "tmp")
    os.makedirs(ws)
    os.makedirs(temp)
    os.makedirs(os.path.join(job_dir, "home"))
    ctx = ctx_for(temp)
    env = dict(os.environ)
    env.update({"CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": ctx.github["run_id"],
                "GITHUB_ACTOR": ctx.github["actor"], "GITHUB_WORKSPACE": ws, "RUNNER_TEMP": temp,
                "HOME": os.path.join(job_dir, "home")})
    for k, v in (wf.get("env") or {}).items():
        env[k] = substitute(str(v), ctx)
    for k, v in (job.get("env") or {}).items():
        env[k] = substitute(str(v), ctx)
    if job.get("environment"):
        log.write(("[run_workflow] environment %s: approved by %s\n" % (job["environment"], a.reviewer)).encode())
    failed = died = False
    for step in job.get("steps", []):
        if died:  # a dead runner runs nothing more, not even `if: always()` steps
            break
        status = {"always": True, "failure": failed, "success": not failed, "cancelled": False}
        if (failed and not step.get("if")) or (step.get("if") and not condition(step["if"], ctx, status)):
            if step.get("id"):
                ctx.steps[step["id"]] = "skipped"
            continue
        with_ = {k: substitute(str(v), ctx) for k, v in (step.get("with") or {}).items()}
        uses = step.get("uses", "")
        log.write(("[run_workflow] %s: %s\n" % (name, step.get("name") or uses or "run")).encode())
        log.flush()
        rc = 0
        if uses.startswith("actions/checkout@"):
            e = dict(env)
            e["WS"] = ws
            rc = subprocess.call(["bash", "-c", a.checkout], env=e, stdout=log, stderr=subprocess.STDOUT)
        elif uses.startswith("actions/download-artifact@"):
            src = os.path.join(a.work, "artifacts", with_["name"])
            if not os.path.isdir(src):
                log.write(("[run_workflow] no artifact %s\n" % with_["name"]).encode())
                rc = 1
            else:
                shutil.rmtree(with_["path"], ignore_errors=True)
                shutil.copytree(src, with_["path"], symlinks=True)
        elif uses.startswith("actions/upload-artifact@"):
            src, dst = with_["path"], os.path.join(a.work, "artifacts", with_["name"])
            if not os.path.isdir(src) or not os.listdir(src):
                rc = 1 if with_.get("if-no-files-found", "warn") == "error" else 0
            else:
                shutil.rmtree(dst, ignore_errors=True)
                shutil.copytree(src, dst, symlinks=True)
        elif uses:
            env["PATH"] = a.relengine_bin + os.pathsep + env["PATH"]  # relengine's action: the built binary
        else:
            e = dict(env)
            for k, v in (step.get("env") or {}).items():
                e[k] = substitute(str(v), ctx)
            script = substitute(step["run"], ctx)
            kill = (a.kill[1], a.kill[2]) if a.kill and a.kill[0] == name else None
            rc = run_step_process(script, ws, e, log, kill)
            died = rc == -9
        if step.get("id"):
            ctx.steps[step["id"]] = "success" if rc == 0 else "failure"
        if rc != 0:
            log.write(("[run_workflow] %s: the step failed (%d)\n" % (name, rc)).encode())
            failed = True
    return "failure" if failed else "success"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("workflow")
    p.add_argument("--work", required=True)
    p.add_argument("--inputs", default="{}")
    p.add_argument("--secrets", default="{}")
    p.add_argument("--run-id", default="4242")
    p.add_argument("--actor", default="release-manager")
    p.add_argument("--reviewer", default="release-reviewer")
    p.add_argument("--checkout", required=True)
    p.add_argument("--relengine-bin", required=True)
    p.add_argument("--kill", nargs=3, metavar=("JOB", "PATH", "REGEX"))
    p.add_argument("--rerun-failed", action="store_true")
    a = p.parse_args()
    wf = load_workflow(a.workflow)
    declared = wf["on"]["workflow_dispatch"].get("inputs", {}) or {}
    given = json.loads(a.inputs)
    inputs = {}
    for k, spec in declared.items():
        v = given.get(k, spec.get("default", ""))
        if spec.get("type") == "boolean":
            v = v if isinstance(v, bool) else str(v).lower() == "true"
        inputs[k] = v
    secrets = json.loads(a.secrets)
    github = {"run_id": a.run_id, "actor": a.actor, "server_url": "https://github.com",
              "repository": "confidential-containers/cloud-api-adaptor"}
    os.makedirs(os.path.join(a.work, "artifacts"), exist_ok=True)
    results_file = os.path.join(a.work, "results.json")
    results = json.load(open(results_file)) if a.rerun_failed and os.path.exists(results_file) else {}
    jobs = wf["jobs"]
    log = open(os.path.join(a.work, "log.txt"), "ab")

    def ancestors(n, seen=None):
        seen = set() if seen is None else seen
        for d in needs_of(jobs[n]):
            if d not in seen:
                seen.add(d)
                ancestors(d, seen)
        return seen

    for name in order_jobs(jobs):
        if results.get(name) == "success":
            continue
        job = jobs[name]
        up = ancestors(name)
        status = {"failure": any(results.get(d) == "failure" for d in up), "cancelled": False, "always": True,
                  "success": all(results.get(d) == "success" for d in up)}
        ctx0 = Context(inputs, secrets, github, "")
        if "if" in job:
            go = condition(job["if"], ctx0, status)
        else:
            go = all(results.get(d) == "success" for d in needs_of(job))
        if not go:
            results[name] = "skipped"
            log.write(("[run_workflow] %s: skipped\n" % name).encode())
            continue
        results[name] = run_job(name, job, wf, a, lambda temp: Context(inputs, secrets, github, temp), log)
        log.write(("[run_workflow] %s: %s\n" % (name, results[name])).encode())
        log.flush()
        json.dump(results, open(results_file, "w"), indent=1)
    json.dump(results, open(results_file, "w"), indent=1)
    print(json.dumps(results))
    return 0 if all(r in ("success", "skipped") for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
