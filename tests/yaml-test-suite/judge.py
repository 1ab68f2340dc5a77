"""The independent readers for tests/unit/yaml_suite_test.cc: PyYAML (python3-yaml from Debian, a
YAML 1.1 reader, as Kubernetes' and Helm's Go libraries are) and, for the documents PyYAML cannot
read, ruamel.yaml (python3-ruamel.yaml, YAML 1.2).

  judge.py paths DATA-DIR OUT.json   for every case whose input is valid YAML holding one document
                                     that is a mapping: the paths of its scalar leaves (lists of
                                     keys and indexes), as PyYAML reads the document
  judge.py check EDITS.json OUT.json for every edit ({case, path, value, text}): does the edited text
                                     read back as the original document with only that leaf changed,
                                     to the string set? Writes the list of wrong edits.
"""
import copy
import json
import math
import os
import sys
import warnings

import yaml

try:
    from ruamel.yaml import YAML as Ruamel
except ImportError:  # judged by PyYAML alone
    Ruamel = None
warnings.simplefilter("ignore")  # ruamel.yaml warns of reused anchors, which the suite has on purpose


def canon(x):
    """A form that compares equal when PyYAML read the same thing (NaN equals NaN)."""
    if isinstance(x, float) and math.isnan(x):
        return ("nan",)
    if isinstance(x, dict):
        return ("map", sorted(((repr(canon(k)), canon(v)) for k, v in x.items()), key=lambda kv: kv[0]))
    if isinstance(x, list):
        return ("list", [canon(v) for v in x])
    return (type(x).__name__, x if not isinstance(x, (bytes, bytearray)) else bytes(x))


class Loader(yaml.SafeLoader):
    """PyYAML's safe loader, which also reads a node of a tag it does not know (`!foo`, `!<x>`) as
    the plain scalar, list or map it is: the suite uses such tags, and yaml.set keeps them."""


def _untagged(loader, _suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


Loader.add_multi_constructor("", _untagged)


def load_one(text, reader):
    if reader == "pyyaml":
        docs = list(yaml.load_all(text, Loader=Loader))
    else:
        docs = list(Ruamel(typ="safe", pure=True).load_all(text))
    return docs[0] if len(docs) == 1 else None


def read(text):
    """(reader, document) of the first reader that reads `text`, or (None, None)."""
    for reader in ["pyyaml"] + (["ruamel"] if Ruamel else []):
        try:
            return reader, load_one(text, reader)
        except Exception:
            pass
    return None, None


def leaves(node, prefix, out):
    if isinstance(node, dict):
        for k, v in node.items():
            if isinstance(k, str):
                leaves(v, prefix + [k], out)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            leaves(v, prefix + [i], out)
    elif prefix:
        out.append(prefix)


def paths(data, out_file):
    result = {}
    for case in sorted(os.listdir(data)):
        d = os.path.join(data, case)
        if os.path.exists(os.path.join(d, "error")):
            continue
        text = open(os.path.join(d, "in.yaml"), "rb").read().decode("utf-8")
        reader, doc = read(text)
        if reader is None:
            result[case] = {"reader": None}
            continue
        if not isinstance(doc, dict):
            continue
        found = []
        leaves(doc, [], found)
        result[case] = {"reader": reader, "paths": found}
    json.dump(result, open(out_file, "w"))


def check(edits_file, out_file):
    edits = json.load(open(edits_file))
    originals = {}
    wrong = []
    for e in edits:
        case, reader = e["case"], e["reader"]
        if case not in originals:
            originals[case] = load_one(open(e["source"], "rb").read().decode("utf-8"), reader)
        want = copy.deepcopy(originals[case])
        node = want
        for seg in e["path"][:-1]:
            node = node[seg]
        node[e["path"][-1]] = e["value"]
        what = "%s %r = %r (%s)" % (case, e["path"], e["value"], reader)
        try:
            got = load_one(e["text"], reader)
        except Exception as ex:
            wrong.append("%s: the edited file cannot be read (%s):\n%s" % (what, ex, e["text"]))
            continue
        if canon(got) != canon(want):
            wrong.append("%s: reads %r, not %r, from:\n%s" % (what, got, want, e["text"]))
    json.dump(wrong, open(out_file, "w"))


if __name__ == "__main__":
    {"paths": paths, "check": check}[sys.argv[1]](sys.argv[2], sys.argv[3])
