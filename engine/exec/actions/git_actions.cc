// git.commit, git.tag and git.revert, through the git command line (the user's config,
// credentials and hooks apply), always with an argument vector and never through a shell.
#include <boost/asio/io_context.hpp>
#include <boost/process/args.hpp>
#include <boost/process/async.hpp>
#include <boost/process/child.hpp>
#include <boost/process/io.hpp>
#include <boost/process/search_path.hpp>
#include <boost/process/start_dir.hpp>
#include <future>
#include <iostream>
#include <sstream>

#include "exec/actions/builtins.h"

namespace relengine::exec::actions {

namespace bp = boost::process;

namespace {

struct GitResult {
  int code = -1;
  std::string out;
  std::string err;
  std::string trimmed() const {
    std::string s = out;
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
  }
};

GitResult git(const std::string& repo, const std::vector<std::string>& args) {
  GitResult r;
  auto exe = bp::search_path("git");
  if (exe.empty()) {
    r.err = "git is not on PATH";
    return r;
  }
  boost::asio::io_context io;
  std::future<std::string> out, err;
  std::error_code ec;
  bp::child c(exe, bp::args = args, bp::start_dir = repo.empty() ? "." : repo, bp::std_in<bp::null, bp::std_out> out,
              bp::std_err > err, io, ec);
  if (ec) {
    r.err = "cannot run git: " + ec.message();
    return r;
  }
  io.run();
  c.wait(ec);
  r.code = c.exit_code();
  r.out = out.get();
  r.err = err.get();
  std::cout << "$ git";
  for (const auto& a : args) std::cout << " " << a;
  std::cout << "\n" << r.out << r.err;
  return r;
}

ActionResult failed(const std::string& message) {
  ActionResult r;
  r.kind = ActionResult::Kind::Failed;
  r.message = message;
  return r;
}

std::string first_line(const std::string& s) {
  auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

// The commit a ref names, or "" when it names none.
std::string commit_of(const std::string& repo, const std::string& ref) {
  auto r = git(repo, {"rev-parse", "-q", "--verify", ref + "^{commit}"});
  return r.code == 0 ? r.trimmed() : "";
}

}  // namespace

ActionResult git_commit(const nlohmann::json& with) {
  std::string repo = param(with, "repo", ".");
  std::string message = param(with, "message");
  auto paths = param_list(with, "paths");
  if (message.empty()) return failed("'message' is empty");
  std::vector<std::string> add = {"add", "-A", "--"};
  add.insert(add.end(), paths.begin(), paths.end());
  if (auto r = git(repo, add); r.code != 0) return failed("git add failed: " + first_line(r.err));
  std::vector<std::string> diff = {"diff", "--cached", "--quiet", "--"};
  diff.insert(diff.end(), paths.begin(), paths.end());
  auto d = git(repo, diff);
  ActionResult out;
  if (d.code == 0) {
    out.kind = ActionResult::Kind::Unchanged;
    out.outputs["sha"] = commit_of(repo, "HEAD");
    out.message = "nothing to commit";
    return out;
  }
  if (d.code != 1) return failed("git diff failed: " + first_line(d.err));
  std::vector<std::string> commit = {"commit", "-m", message, "--"};
  commit.insert(commit.end(), paths.begin(), paths.end());
  if (auto c = git(repo, commit); c.code != 0) return failed("git commit failed: " + first_line(c.err + c.out));
  out.outputs["sha"] = commit_of(repo, "HEAD");
  out.message = "committed " + out.outputs["sha"];
  return out;
}

ActionResult git_tag(const nlohmann::json& with) {
  std::string repo = param(with, "repo", ".");
  std::string tag = param(with, "tag");
  std::string ref = param(with, "ref", "HEAD");
  std::string remote = param(with, "remote");
  std::string message = param(with, "message");
  if (tag.empty()) return failed("'tag' is empty");
  if (git(repo, {"check-ref-format", "refs/tags/" + tag}).code != 0)
    return failed("'" + tag + "' is not a valid tag name");
  if (!remote.empty() && remote.front() == '-') return failed("'" + remote + "' is not a remote");
  std::string target = commit_of(repo, ref);
  if (target.empty()) return failed("'" + ref + "' names no commit in " + repo);

  std::string local = commit_of(repo, "refs/tags/" + tag);
  std::string remote_sha;
  if (!remote.empty()) {
    auto ls = git(repo, {"ls-remote", "--tags", remote, "refs/tags/" + tag, "refs/tags/" + tag + "^{}"});
    if (ls.code != 0) return failed("cannot list the tags of remote " + remote + ": " + first_line(ls.err));
    std::istringstream lines(ls.out);
    for (std::string line; std::getline(lines, line);) {
      auto tab = line.find('\t');
      if (tab == std::string::npos) continue;
      std::string sha = line.substr(0, tab), name = line.substr(tab + 1);
      if (name == "refs/tags/" + tag + "^{}")
        remote_sha = sha;  // peeled: the commit of an annotated tag
      else if (name == "refs/tags/" + tag && remote_sha.empty())
        remote_sha = sha;
    }
  }
  auto moved = [&](const std::string& where, const std::string& sha) {
    return failed("tag " + tag + " already exists " + where + " at " + sha + ", not at " + target + " (" + ref +
                  "); a pushed tag is never moved: release the next patch version instead");
  };
  if (!local.empty() && local != target) return moved("locally", local);
  if (!remote_sha.empty() && remote_sha != target) return moved("on " + remote, remote_sha);

  ActionResult out;
  out.outputs["sha"] = target;
  out.outputs["tag"] = tag;  // (the release record lists the tags and the commits they name)
  if (!remote_sha.empty()) {
    out.kind = ActionResult::Kind::Unchanged;
    out.message = "tag " + tag + " is already on " + remote + " at " + target;
    return out;
  }
  bool created = false;
  if (local.empty()) {
    std::vector<std::string> args = {"tag"};
    if (!message.empty()) args.insert(args.end(), {"-a", "-m", message});
    args.insert(args.end(), {"--", tag, target});
    if (auto t = git(repo, args); t.code != 0) return failed("git tag failed: " + first_line(t.err));
    created = true;
  }
  if (!remote.empty()) {
    if (auto p = git(repo, {"push", remote, "refs/tags/" + tag}); p.code != 0)
      return failed("pushing tag " + tag + " to " + remote + " failed: " + first_line(p.err));
    out.message = (created ? "created and pushed " : "pushed existing ") + tag + " at " + target;
    return out;
  }
  if (!created) {
    out.kind = ActionResult::Kind::Unchanged;
    out.message = "tag " + tag + " already exists at " + target;
    return out;
  }
  out.message = "created " + tag + " at " + target;
  return out;
}

ActionResult git_revert(const nlohmann::json& with) {
  std::string repo = param(with, "repo", ".");
  std::string commit = param(with, "commit");
  if (commit.empty()) return failed("'commit' is empty");
  std::string sha = commit_of(repo, commit);
  if (sha.empty()) return failed("'" + commit + "' names no commit in " + repo);
  if (git(repo, {"merge-base", "--is-ancestor", sha, "HEAD"}).code != 0)
    return failed(sha + " is not in the history of HEAD; nothing to revert");
  ActionResult out;
  // Already reverted by message ...
  auto log = git(repo, {"log", "--format=%H", "--grep=This reverts commit " + sha, sha + "..HEAD"});
  if (log.code == 0 && !log.trimmed().empty()) {
    out.kind = ActionResult::Kind::Unchanged;
    out.outputs["sha"] = first_line(log.trimmed());
    out.message = sha + " is already reverted by " + out.outputs["sha"];
    return out;
  }
  // ... or by content: the files it touched are back as they were before it.
  auto files = git(repo, {"diff-tree", "--no-commit-id", "--name-only", "-r", "-m", "--first-parent", sha});
  if (files.code == 0 && !files.trimmed().empty()) {
    std::vector<std::string> args = {"diff", "--quiet", sha + "^", "HEAD", "--"};
    std::istringstream lines(files.out);
    for (std::string f; std::getline(lines, f);)
      if (!f.empty()) args.push_back(f);
    if (git(repo, args).code == 0) {
      out.kind = ActionResult::Kind::Unchanged;
      out.outputs["sha"] = commit_of(repo, "HEAD");
      out.message = "the changes of " + sha + " are already undone";
      return out;
    }
  }
  // A merge commit (a pull request merged with one) is reverted against its first parent, the
  // line it was merged into.
  std::vector<std::string> revert = {"revert", "--no-edit"};
  if (!commit_of(repo, sha + "^2").empty()) revert.insert(revert.end(), {"-m", "1"});
  revert.push_back(sha);
  if (auto r = git(repo, revert); r.code != 0) {
    git(repo, {"revert", "--abort"});
    return failed("git revert " + sha + " failed: " + first_line(r.err + r.out));
  }
  out.outputs["sha"] = commit_of(repo, "HEAD");
  out.message = "reverted " + sha + " with " + out.outputs["sha"];
  return out;
}

}  // namespace relengine::exec::actions
