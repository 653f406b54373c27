#!/usr/bin/env python3
"""List the modules a pymakedumpfile command imports, as the dracut module must install them.

    python3 -S tests/vm/trace_imports.py [--json FILE] -- -l -d 31 VMCORE DUMPFILE [-- -z -d 31 VMCORE DUMPFILE ...]

Runs each command in this interpreter (pymakedumpfile.cli.main), then prints every module in
sys.modules by kind: "builtin" (compiled into the interpreter or frozen), "stdlib" (file under the standard
library), "thirdparty" (anything else, outside the pymakedumpfile package) and "package".
Run it with -S (as the crash kernel runs pymakedumpfile) and the codec packages on PYTHONPATH:
what start-up itself imports (encodings, codecs, io, abc, os...) is then included, and nothing
of site.
"""
import sys  # only sys before the run: anything else would show up as imported by the command


def classify(modules):
    import os
    import sysconfig

    std = {os.path.realpath(sysconfig.get_paths()[k]) for k in ("stdlib", "platstdlib")}
    out = {"builtin": {}, "stdlib": {}, "thirdparty": {}, "package": {}}
    for name, mod in sorted(modules.items()):
        if mod is None or name == "__main__":
            continue
        f = getattr(mod, "__file__", None)
        if name == "pymakedumpfile" or name.startswith("pymakedumpfile."):
            out["package"][name] = f
        elif f is None:
            out["builtin"][name] = None
        else:
            rf = os.path.realpath(f)
            if any(rf.startswith(s + os.sep) for s in std) and "site-packages" not in rf:
                out["stdlib"][name] = rf
            else:
                out["thirdparty"][name] = rf
    return out


def main():
    argv = sys.argv[1:]
    json_out = None
    if argv and argv[0] == "--json":
        json_out, argv = argv[1], argv[2:]
    cmds = []
    for a in argv:
        if a == "--":
            cmds.append([])
        else:
            if not cmds:
                cmds.append([])
            cmds[-1].append(a)
    from pymakedumpfile import cli

    rcs = [cli.main(c) for c in cmds if c]
    res = classify(dict(sys.modules))
    res["rc"] = rcs
    if json_out:
        import json

        with open(json_out, "w") as f:
            json.dump(res, f, indent=1)
    else:
        for kind in ("builtin", "stdlib", "thirdparty", "package"):
            print(f"# {kind}: {len(res[kind])}")
            for name, f in res[kind].items():
                print(f"{kind}\t{name}\t{f or ''}")
        print("# rc", rcs)
    return 0 if all(r == 0 for r in rcs) else 1


if __name__ == "__main__":
    sys.exit(main())
