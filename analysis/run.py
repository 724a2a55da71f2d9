"""Run the book: execute the chapters with papermill, then build it with Jupyter Book.

Usage (from the repository root, inside the project's environment)::

    python -m analysis.run                       # default profile, whole book, CPU
    python -m analysis.run --profile quick       # minutes; what the tests run
    python -m analysis.run --profile full --device cuda
    python -m analysis.run --only data -p seed 3 -p n_subjects 8
    python -m analysis.run --list                # chapters and their parameters

Each chapter is a jupytext ``py:percent`` file in ``notebooks/``. The runner turns it
into ``<out>/notebooks/<name>.ipynb``, executes that with papermill into
``<out>/executed/<name>.ipynb`` (parameters: the profile's, then ``-p`` overrides,
then ``device`` and ``results_dir``), and builds the book from a staging copy of
``_config.yml``, ``_toc.yml``, ``book/`` and the executed notebooks into
``<out>/html``. Notebook execution is off in ``_config.yml``: the book shows exactly
what the runner executed. Chapters not run this time keep their last executed
version, or get a page saying how to run them.

A failing chapter stops the run with the notebook, the cell and the error, and
leaves the partially executed notebook in ``<out>/executed/`` for inspection.

The runner replaces only what it made. It marks its output folder, and each folder it
replaces (``html/``, ``site/``), with a small JSON file ``.living-paper-output``, and
refuses an existing non-empty folder without that mark (a user's folder given as
``--out`` is never emptied). While it runs it holds ``<out>/.living-paper-output.lock``
(process id, host and start time): a second run into the same folder stops with a
message naming the holder; a lock left by a process that no longer runs on this host
is taken over with a note.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from .params import ParameterError, check_types_agree, coerce, declared_parameters, parse_text
from .provenance import REPO_ROOT, resolve_device

__all__ = ["PROFILES", "chapters", "main", "run_chapter", "build_book", "parse_value",
           "notebook_parameters", "typed_parameters", "OutputError", "claim_output",
           "OUTPUT_MARKER", "RUNNER_PARAMETERS"]

NOTEBOOKS = REPO_ROOT / "notebooks"

# Parameters of each profile; a chapter receives those it declares in its
# ``parameters`` cell. Budgets are for a 2-core CPU (quick, default) or one GPU (full).
PROFILES = {
    "quick": {  # the tests' end-to-end run: a few minutes in all
        "n_words": 600,
        "n_subjects": 2,
        "rsa_words": 300,
        "layer_step": 5,  # 7 of 31 hidden states: the suite fits 20 minutes on 2 cores
        "ft_tasks": ["siqa"],  # fine-tuning: one task, a few items, 100 permutations
        "ft_n_train": 8,
        "ft_n_eval": 12,
        "ft_epochs": 1,
        "ft_n_permutations": 100,
        "ft_n_words": 150,
        "ft_lm_tokens": 256,
        "ft_eval_every": 0,
        "ft_control": False,  # the shuffled-answer fine-tune adds ~50 s per quick book
        "controls": False,  # 150 words are too few to detect them (tests/test_controls.py)
        "real_n_words": 400,  # real data: about 50 Frank sentences, one Natural Stories story
        "ns_stories": 1,
        "real_n_permutations": 100,
        "n_splits": 20,
        "instructions": ["emotion"],  # models chapter: one instruction on a few words,
        "instr_frank_words": 150,  # every tenth layer, few permutations and resamples
        "instr_sim_words": 150,
        "instr_n_permutations": 200,
        "instr_n_refit": 100,
        "n_boot": 200,
        "model_layer_step": 10,
        "map_channels": 30,
        "power_n_sim": 40,  # draws per minimum detectable effect of a null (analysis.power)
    },
    "default": {  # the whole book on a 2-core CPU in at most 45 minutes
        "n_words": 0,  # 0 = every word of the story
        "n_subjects": 4,
        "rsa_words": 1000,
        "layer_step": 3,  # the sweep took 490 s with every second layer
        # items per task, LoRA, held-out accuracy before and after training only: with 400
        # items, 300 held out and a learning-curve point every 200 items the three trainings
        # (Social IQa, PIQA, shuffled answers) took 1,036 s of the 45 minutes
        "ft_n_train": 300,
        "ft_n_eval": 200,
        "ft_eval_every": 0,
        "ft_epochs": 1,
        # The brain re-tests and their controls run on the first 2,000 words (about 190
        # sentences) with 1,000 permutations (p >= 1e-3): seven re-tests (two controls,
        # two models, the shuffled-answer control and the two models against it) with
        # every word and 2,000 permutations did not fit the 45 minutes, nor did the
        # scaled null with the controls on all 4,697 words (48.2 min); each re-test's
        # power is shown. Chapter 06's refit null draws 200 refits (500 took 120 s).
        "ft_n_words": 2000,
        "ft_n_permutations": 1000,
        "power_n_sim": 100,  # draws per minimum detectable effect of a null (analysis.power)
        "real_n_permutations": 10000,
        "instructions": None,  # models chapter: the default subset of four instructions
        "instr_frank_words": 0,  # on every Frank word, 300 simulated words; 5 folds,
        "instr_sim_words": 300,  # every fifth layer, 50 channels in the maps (about 6 min)
        "instr_n_permutations": 2000,
        "n_boot": 1000,
        "model_layer_step": 5,
        "models_n_folds": 5,
        "map_channels": 50,
    },
    "full": {  # paper-scale settings, meant for a GPU
        "n_words": 0,
        "n_subjects": 8,
        "rsa_words": 2000,
        "n_per_set": 100,
        "ft_n_train": 0,  # all items
        "ft_n_eval": 0,
        "ft_epochs": 3,
        "ft_lora": False,  # the paper's setting: all weights at 1e-5
        "ft_lr": 1e-5,
        "ft_batch_size": 8,
        "ft_max_length": 256,
        "ft_eval_every": 5000,  # learning-curve points every 5,000 training items
        "ft_n_words": 0,
        "ft_n_permutations": 10000,
        "instructions": ["all"],  # models chapter: all 13 instructions, every layer and
        "instr_sim_words": 0,  # word, the fine-tuned models swept too
        "instr_n_permutations": 10000,
        "instr_n_refit": 2000,  # the refit null on the nine Frank targets (a GPU's work)
        "n_boot": 2000,
        "model_layer_step": 1,
        "models_n_folds": 10,
        "map_channels": 0,
        "finetuned_sweep": True,
    },
}


class ChapterFailed(RuntimeError):
    """A notebook raised while executing."""


class OutputError(RuntimeError):
    """The output folder cannot be used: not made by the runner, locked or not writable."""


#: The file that marks a folder as made (and replaceable) by the runner.
OUTPUT_MARKER = ".living-paper-output"
_LOCK = OUTPUT_MARKER + ".lock"
#: Parameters the runner sets from its own options (``-p`` may not set them).
RUNNER_PARAMETERS = {"device": "--device", "results_dir": "--out", "profile": "--profile"}


def _marker_text():
    from .provenance import git_commit

    return json.dumps({"tool": "analysis.run", "version": git_commit(),
                       "created": datetime.datetime.now(datetime.timezone.utc)
                       .isoformat(timespec="seconds")}, indent=2) + "\n"


def _is_marked(folder):
    """Whether ``folder`` holds the runner's mark (a JSON file naming the tool)."""
    try:
        return json.loads((Path(folder) / OUTPUT_MARKER).read_text()).get("tool") == "analysis.run"
    except (OSError, ValueError, AttributeError):
        return False


def _not_ours(folder, what="output folder"):
    legacy = (" (a _build from a version of the runner that did not mark its folders: "
              "`make clean` removes it)" if Path(folder) == REPO_ROOT / "_build" else "")
    return OutputError(
        f"{what} {folder} is not empty and was not made by this runner (it has no "
        f"{OUTPUT_MARKER} file), so the runner will not replace what it holds. Choose an "
        f"empty or new folder with --out, or move or remove that folder yourself{legacy}.")


def _unwritable(folder, err):
    return OutputError(f"cannot write to the output folder {folder} ({err.strerror or err}); "
                       "choose a folder you can write to with --out.")


def _mark(folder):
    from ._utils import atomic_write

    atomic_write(Path(folder) / OUTPUT_MARKER,
                 lambda tmp: Path(tmp).write_text(_marker_text()))


def _replace_folder(folder):
    """Empty a folder the runner made (refusing one it did not) and mark it again."""
    folder = Path(folder)
    if folder.exists():
        if not folder.is_dir() or (any(folder.iterdir()) and not _is_marked(folder)):
            raise _not_ours(folder, "folder")
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    _mark(folder)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, owned by another user
        return True
    return True


def _lock_holder(lock):
    try:
        return json.loads(lock.read_text())
    except (OSError, ValueError):
        return {}


def _take_lock(out, log):
    lock = out / _LOCK
    me = {"pid": os.getpid(), "host": socket.gethostname(),
          "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _lock_holder(lock)
            pid = holder.get("pid")
            if (holder.get("host") == me["host"] and isinstance(pid, int)
                    and not _pid_alive(pid)):
                log(f"note: taking over the lock {lock}, left by process {pid} (started "
                    f"{holder.get('started', '?')}), which no longer runs on this host")
                with contextlib.suppress(FileNotFoundError):
                    lock.unlink()
                continue
            who = (f"process {pid} on host {holder.get('host', '?')}, started "
                   f"{holder.get('started', '?')}") if holder else "an unreadable lock file"
            raise OutputError(
                f"output folder {out} is in use by another run ({who}; lock file {lock}). "
                "Wait for it to finish or choose another folder with --out; if no such run "
                "is going on, remove the lock file.") from None
        except OSError as err:
            raise _unwritable(out, err) from None
        with os.fdopen(fd, "w") as fh:
            json.dump(me, fh)
        return lock
    raise OutputError(f"output folder {out}: could not take the lock {lock}; try again.")


@contextlib.contextmanager
def claim_output(out, log=print):
    """Use ``out`` as the runner's output folder for the duration of a ``with`` block.

    The folder must be new, empty or marked as the runner's (:data:`OUTPUT_MARKER`);
    it is created and marked, and locked (``.living-paper-output.lock`` holding the
    process id, host and start time) until the block ends.

    Parameters
    ----------
    out : Path
    log : callable
        Where a note on a stale lock goes.

    Yields
    ------
    Path
        ``out``.

    Raises
    ------
    OutputError
        A non-empty folder the runner did not make, a path that is a file, a folder
        that cannot be written, or a folder locked by a run that is still going (each
        message names the folder and what to do).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"output folder {out} is a file; choose a folder with --out.")
    if out.is_dir() and not _is_marked(out) and not (out / _LOCK).exists() \
            and any(out.iterdir()):
        raise _not_ours(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise _unwritable(out, err) from None
    lock = _take_lock(out, log)
    try:
        if not _is_marked(out):
            if any(p.name != _LOCK for p in out.iterdir()):
                raise _not_ours(out)
            try:
                _mark(out)
            except OSError as err:
                raise _unwritable(out, err) from None
        yield out
    finally:
        if _lock_holder(lock).get("pid") == os.getpid():
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()


def chapters():
    """The book's chapters in order.

    Returns
    -------
    dict of str to Path
        Section name (``"data"`` for ``notebooks/00_data.py``) to its jupytext file.
    """
    out = {}
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py")):
        out[path.stem.split("_", 1)[1]] = path
    return out


def parse_value(text):
    """Read a ``-p`` value as YAML with 1.2 number rules (see :func:`analysis.params.parse_text`)."""
    return parse_text(text)


def notebook_parameters(path):
    """The typed parameters declared in a notebook's ``parameters`` cell.

    The cell is parsed with :mod:`ast`, so every top-level assignment counts, whatever
    its comment says (papermill's own line parser skips some lines silently).

    Returns
    -------
    dict of str to analysis.params.Parameter
    """
    import jupytext

    nb = jupytext.read(path)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if not cells:
        return {}
    try:
        return declared_parameters(cells[0].source)
    except ParameterError as err:
        raise ParameterError(f"{_rel(path)}: {err}") from None


def typed_parameters(selected, profile, overrides):
    """The parameters every selected chapter receives, converted to their declared types.

    Parameters
    ----------
    selected : dict of str to Path
        Chapters to run.
    profile : dict
        The profile's values.
    overrides : list of (str, str)
        ``-p NAME VALUE`` pairs as typed.

    Returns
    -------
    dict

    Raises
    ------
    ParameterError
        An override no selected chapter declares, a value of the wrong type (naming the
        parameter, the value and the type), a parameter whose type differs between
        chapters, an unknown dataset, or a dataset option the loader does not take or
        of the wrong type (:func:`analysis.datasets.check_dataset_options`).
    """
    declared = check_types_agree({name: notebook_parameters(path)
                                  for name, path in selected.items()})
    every = check_types_agree({name: notebook_parameters(path)
                               for name, path in chapters().items()})
    unknown = sorted({k for k, _ in overrides} - set(declared))
    if unknown:
        raise ParameterError(f"parameter(s) {unknown} are not declared by the selected "
                             f"chapters; declared: {sorted(declared)}")
    out = {}
    for name, value in profile.items():
        if name in every:  # profiles may set parameters of chapters not selected
            out[name] = coerce(every[name], value)
    for name, text in overrides:
        out[name] = coerce(declared[name], parse_text(text), text)
    _check_dataset(out, declared)
    return out


def _check_dataset(values, declared):
    """Refuse an unknown dataset or loader options of the wrong type before any chapter runs."""
    from ._utils import DataError
    from .datasets import check_dataset_options

    if "dataset" not in declared:
        return
    name = values.get("dataset", declared["dataset"].default)
    options = values.get("dataset_options", declared["dataset_options"].default
                         if "dataset_options" in declared else {})
    try:
        check_dataset_options(name, dict(options or {}))
    except DataError as err:
        raise ParameterError(f"parameter 'dataset'/'dataset_options': {err}") from None


def _is_glue_only(node):
    """A statement that only glues numbers into the prose (or a block of such)."""
    import ast

    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        f = node.value.func
        return getattr(f, "id", getattr(f, "attr", "")) == "glue"
    if isinstance(node, (ast.For, ast.If)):
        return all(_is_glue_only(n) for n in node.body + node.orelse)
    return False


def cell_tags(source):
    """Tags the runner adds to a code cell so the page shows what a reader needs.

    A cell that only glues numbers into the prose is removed from the page
    (``remove-input``; its numbers appear in the text); a cell that assembles and saves
    the chapter's results is collapsed (``hide-input``). The provenance table (run time,
    commit, versions) differs on every execution by design, so nbval does not compare
    its output (``nbval-ignore-output``).

    Parameters
    ----------
    source : str

    Returns
    -------
    list of str
    """
    import ast

    try:
        body = ast.parse(source).body
    except SyntaxError:
        return []
    if body and all(_is_glue_only(n) for n in body):
        return ["remove-input"]
    if "chapter.save(" in source or "results = {" in source:
        return ["hide-input"]
    if "provenance_table(" in source:
        return ["nbval-ignore-output"]
    return []


def _convert(py_path, folder):
    import jupytext

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    nb = jupytext.read(py_path)
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" not in cell.metadata.get("tags", []):
            tags = cell.metadata.setdefault("tags", [])
            tags += [t for t in cell_tags(cell.source) if t not in tags]
    nb.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3",
                                          "language": "python"})
    out = folder / (Path(py_path).stem + ".ipynb")
    jupytext.write(nb, out)
    return out


def run_chapter(name, py_path, params, out, log=print):
    """Convert and execute one chapter.

    Parameters
    ----------
    name : str
        Section name.
    py_path : Path
        The jupytext source.
    params : dict
        Parameters to inject (only those the notebook declares are passed).
    out : Path
        Output root (``_build``).
    log : callable
        Where progress lines go.

    Returns
    -------
    Path
        The executed notebook.

    Raises
    ------
    ChapterFailed
        With the notebook, cell number and error when a cell raises.
    """
    import papermill as pm

    nb_in = _convert(py_path, out / "notebooks")
    declared = notebook_parameters(py_path)
    inject = {k: v for k, v in params.items() if k in declared}
    nb_out = out / "executed" / nb_in.name
    nb_out.parent.mkdir(parents=True, exist_ok=True)
    log(f"[{name}] executing {_rel(py_path)} with "
        + ", ".join(f"{k}={v!r}" for k, v in inject.items()))
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + env_path if env_path else "")
    t0 = time.time()
    _show_notebook_output()
    try:
        # log_output streams the cells' output (feature-extraction progress bars
        # included) to this terminal; the book hides stderr (_config.yml).
        pm.execute_notebook(str(nb_in), str(nb_out), parameters=inject, kernel_name="python3",
                            cwd=str(REPO_ROOT), progress_bar=False,
                            log_output=True, report_mode=False)
    except pm.PapermillExecutionError as err:
        raise ChapterFailed(
            f"chapter '{name}' ({_rel(py_path)}) failed in cell "
            f"{err.cell_index} (execution count {err.exec_count}): {err.ename}: {err.evalue}\n"
            f"The partially executed notebook is {nb_out}"
        ) from None
    finally:
        os.environ["PYTHONPATH"] = env_path
    log(f"[{name}] done in {time.time() - t0:.0f} s")
    return nb_out


def _show_notebook_output():
    import logging

    logger = logging.getLogger("papermill")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("    %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _rel(path):
    path = Path(path)
    return path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path


def _placeholder(name, py_path):
    return (f"# {name.capitalize()} (not run in this build)\n\n"
            f"This chapter has not been executed in this build. Run\n\n"
            f"```bash\n.venv/bin/python -m analysis.run --only {name}\n```\n\n"
            f"to execute `{_rel(py_path)}` and rebuild the book.\n")


def build_book(out, log=print):
    """Build the HTML book from the executed notebooks into ``<out>/html``.

    Parameters
    ----------
    out : Path
        Output root holding ``executed/``.
    log : callable
        Where progress lines go.

    Returns
    -------
    Path
        ``<out>/html/index.html``.

    Raises
    ------
    OutputError
        When ``<out>/html`` or ``<out>/site`` holds files the runner did not make.
    """
    stage = out / "site"
    _replace_folder(stage)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(REPO_ROOT / name, stage / name)
    shutil.copytree(REPO_ROOT / "book", stage / "book")
    from .glance import at_a_glance

    (stage / "book" / "at_a_glance.md").write_text(at_a_glance(out / "results"))
    from .paper import paper_beside_book

    (stage / "book" / "paper_beside_book.md").write_text(paper_beside_book(out / "results"))
    (stage / "notebooks").mkdir()
    for name, py_path in chapters().items():
        executed = out / "executed" / (py_path.stem + ".ipynb")
        if executed.exists():
            shutil.copy2(executed, stage / "notebooks" / executed.name)
        else:
            (stage / "notebooks" / (py_path.stem + ".md")).write_text(_placeholder(name, py_path))
    bench = REPO_ROOT / "benchmarks" / "results"
    if bench.exists():
        shutil.copytree(bench, stage / "benchmarks" / "results")
    log("[book] building HTML with Jupyter Book (warnings are errors)")
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(stage), "--all",
           "--warningiserror", "--keep-going", "--path-output", str(out / "jb")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise ChapterFailed(f"Jupyter Book failed (exit {proc.returncode}):\n{tail}")
    html = out / "html"
    _replace_folder(html)
    shutil.copytree(out / "jb" / "_build" / "html", html, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("*.map", "_sources"))  # never read by a reader
    survey = out / "results" / "survey"
    if survey.exists():  # the human-validation chapter's survey page, linked from that chapter
        shutil.copytree(survey, html / "survey")
    log(f"[book] {html / 'index.html'}")
    return html / "index.html"


def _parser():
    p = argparse.ArgumentParser(prog="python -m analysis.run", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profile", choices=sorted(PROFILES), default="default",
                   help="parameter set: quick (tests), default (2-core CPU), full (GPU)")
    p.add_argument("-p", "--param", nargs=2, action="append", default=[],
                   metavar=("NAME", "VALUE"), help="override a notebook parameter (YAML value)")
    p.add_argument("--only", action="append", default=[], metavar="SECTION",
                   help="run only this chapter (repeatable); others keep their last run")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--out", default=str(REPO_ROOT / "_build"), help="output folder (_build)")
    p.add_argument("--no-book", action="store_true", help="execute chapters, skip the HTML build")
    p.add_argument("--list", action="store_true", help="list chapters and their parameters")
    return p


def main(argv=None):
    """Command-line entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    all_chapters = chapters()
    if args.list:
        for name, path in all_chapters.items():
            print(f"{name}  ({_rel(path)})")
            for k, v in notebook_parameters(path).items():
                print(f"    {k}: {v.type} = {v.source}")
        return 0
    unknown = [s for s in args.only if s not in all_chapters]
    if unknown:
        print(f"error: unknown section(s) {unknown}; known: {list(all_chapters)}", file=sys.stderr)
        return 2
    selected = {k: v for k, v in all_chapters.items() if not args.only or k in args.only}
    try:
        device = resolve_device(args.device)
    except (RuntimeError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out).resolve()
    clash = [(name, RUNNER_PARAMETERS[name]) for name, _ in args.param
             if name in RUNNER_PARAMETERS]
    if clash:
        print("error: " + "; ".join(
            f"-p {name} would be overridden by the runner's {option} option; give {option} "
            "instead" for name, option in clash) + ".", file=sys.stderr)
        return 2
    try:
        params = typed_parameters(selected, PROFILES[args.profile], args.param)
    except ParameterError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    params.update(device=device, results_dir=str(out / "results"), profile=args.profile)
    try:
        with claim_output(out):
            return _run(args, selected, params, device, out)
    except OutputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def _run(args, selected, params, device, out):
    t0 = time.time()
    timings = {}
    try:
        for name, path in selected.items():
            t = time.time()
            run_chapter(name, path, params, out)
            timings[name] = round(time.time() - t, 1)
        if not args.no_book:
            t = time.time()
            build_book(out)
            timings["book"] = round(time.time() - t, 1)
    except ChapterFailed as err:
        print(f"\nerror: {err}", file=sys.stderr)
        return 1
    (out / "results").mkdir(parents=True, exist_ok=True)
    (out / "results" / "run.json").write_text(json.dumps(
        {"profile": args.profile, "device": device, "parameters": params,
         "timings_s": timings, "total_s": round(time.time() - t0, 1)}, indent=2) + "\n")
    print(f"done in {time.time() - t0:.0f} s: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
