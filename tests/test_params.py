"""Notebook parameters arrive with the type their declaration gives, or are refused early."""

import textwrap

import pytest

from analysis import params as P
from analysis import run


@pytest.mark.parametrize("text, value", [
    ("1e-4", 1e-4), ("1E-3", 1e-3), (".5", 0.5), ("-2.5e-3", -0.0025), ("3", 3),
    ("true", True), ("null", None), ("[gpt2, default]", ["gpt2", "default"]),
    ("{sfreq: 1000, stories: [a, b]}", {"sfreq": 1000, "stories": ["a", "b"]}),
    ("cuda", "cuda"),
])
def test_command_line_values_are_read_with_yaml_12_numbers(text, value):
    assert P.parse_text(text) == value
    assert run.parse_value(text) == value


CELL = textwrap.dedent('''\
    ft_lr = 1e-5
    p_threshold = 0.001
    n_words = 0
    flag = False
    model = "default"
    models = ["default"]
    dataset_options = {}
    data_path: str | None = None
    layers: list[int] | None = None
    ''')


def test_declared_types_come_from_annotations_or_defaults():
    d = P.declared_parameters(CELL)
    assert {k: v.type for k, v in d.items()} == {
        "ft_lr": "float", "p_threshold": "float", "n_words": "int", "flag": "bool",
        "model": "str", "models": "list[str]", "dataset_options": "dict",
        "data_path": "str | None", "layers": "list[int] | None"}
    with pytest.raises(P.ParameterError, match="defaults to None without a type"):
        P.declared_parameters("x = None\n")


@pytest.mark.parametrize("name, text, value", [
    ("ft_lr", "1e-4", 1e-4), ("p_threshold", "1E-3", 1e-3), ("ft_lr", "3", 3.0),
    ("n_words", "600", 600), ("data_path", "null", None), ("data_path", "x.csv", "x.csv"),
    ("layers", "[1, 2]", [1, 2]), ("model", "123", "123"), ("models", "[gpt2]", ["gpt2"]),
    ("dataset_options", "{sfreq: 1000}", {"sfreq": 1000}), ("flag", "true", True),
])
def test_values_arrive_typed(name, text, value):
    got = P.coerce(P.declared_parameters(CELL)[name], P.parse_text(text), text)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("name, text", [
    ("n_words", "1.5"), ("flag", "3"), ("layers", "[a, b]"), ("ft_lr", "fast"),
    ("dataset_options", "[1]"), ("models", "7"),
])
def test_wrong_types_are_refused_naming_parameter_value_and_type(name, text):
    param = P.declared_parameters(CELL)[name]
    with pytest.raises(P.ParameterError, match=rf"parameter '{name}': value .* is not of type "
                                               rf"{param.type.replace('|', '[|]').replace('[', '.').replace(']', '.')}"):
        P.coerce(param, P.parse_text(text), text)


def test_the_runner_refuses_a_bad_value_before_any_chapter(tmp_path, capsys):
    assert run.main(["-p", "n_words", "many", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "parameter 'n_words': value many (str) is not of type int" in err
    assert not (tmp_path / "executed").exists()  # nothing ran


def test_the_runner_types_yaml_11_floats(monkeypatch, tmp_path):
    seen = {}

    def fake_run_chapter(name, path, params, out, log=print):
        seen.update(params)

    monkeypatch.setattr(run, "run_chapter", fake_run_chapter)
    assert run.main(["--only", "finetuning", "-p", "ft_lr", "1e-4", "--no-book",
                     "--out", str(tmp_path)]) == 0
    assert seen["ft_lr"] == 1e-4 and isinstance(seen["ft_lr"], float)


def test_every_chapter_parameter_has_one_type_and_profiles_fit_them():
    every = P.check_types_agree({n: run.notebook_parameters(p)
                                 for n, p in run.chapters().items()})
    for profile in run.PROFILES.values():
        for name, value in profile.items():
            assert name in every, name
            P.coerce(every[name], value)  # raises if a profile value has the wrong type
    with pytest.raises(P.ParameterError, match="has type int in chapter 'a' but float"):
        P.check_types_agree({"a": P.declared_parameters("x = 1\n"),
                             "b": P.declared_parameters("x = 1.0\n")})


@pytest.mark.parametrize("text, value", [
    ("0100", 100), ("0o17", 15), ("0x1F", 31), ("-0100", -100), ("1:30", "1:30"),
    ("yes", "yes"), ("no", "no"), ("on", "on"), ("off", "off"), ("Y", "Y"),
    ("TRUE", True), ("False", False), ("2024-01-02", "2024-01-02"), ("1_000", "1_000"),
    (".inf", float("inf")), ("-.Inf", float("-inf")), ("~", None),
    ("[0100, yes]", [100, "yes"]), ("{a: 1:30}", {"a": "1:30"}),
])
def test_values_follow_the_yaml_12_core_schema_not_yaml_11(text, value):
    got = P.parse_text(text)
    assert got == value and type(got) is type(value)


def test_nan_is_read_as_a_float_nan():
    import math

    assert math.isnan(P.parse_text(".nan"))
    assert P.parse_text("nan") == "nan"  # not a 1.2 float spelling


@pytest.mark.parametrize("name, text, expected", [
    ("n_words", "0100", 100), ("n_words", "0x1F", 31), ("ft_lr", "0100", 100.0),
    ("model", "0100", "0100"),
])
def test_leading_zeros_are_decimal_for_typed_parameters(name, text, expected):
    got = P.coerce(P.declared_parameters(CELL)[name], P.parse_text(text), text)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("name, text", [("n_words", "1:30"), ("flag", "yes"), ("flag", "off")])
def test_yaml_11_spellings_fail_the_declared_type_clearly(name, text):
    param = P.declared_parameters(CELL)[name]
    with pytest.raises(P.ParameterError, match=rf"parameter '{name}': value {text} \(str\) is "
                                               rf"not of type {param.type}"):
        P.coerce(param, P.parse_text(text), text)


def test_the_runner_reads_n_words_0100_as_100(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(run, "run_chapter", lambda name, path, params, out, log=print:
                        seen.update(params))
    assert run.main(["--only", "data", "-p", "n_words", "0100", "--no-book",
                     "--out", str(tmp_path / "out")]) == 0
    assert seen["n_words"] == 100


# --------------------------------------------------------------------------- dataset options
@pytest.mark.parametrize("options, message", [
    ("{measures: 5}", "option 'measures' is 5 (int); expected str | list of str | None"),
    ("{window_ms: fast}", "option 'window_ms' is 'fast' (str); expected float | None"),
    ("{context: paragraph}", "option 'context' is 'paragraph' (str); expected "
                             '{"running", "sentence", "story"} | None'),
    ("{measures: [rt, 3]}", "option 'measures' is ['rt', 3] (list); expected"),
])
def test_dataset_options_of_the_wrong_type_are_refused_before_any_chapter(options, message,
                                                                         tmp_path, capsys):
    out = tmp_path / "out"
    assert run.main(["--only", "data", "-p", "dataset", "table", "-p", "data_path", "x.tsv",
                     "-p", "dataset_options", options, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "dataset 'table': " + message in err
    assert not out.exists()  # nothing ran


def test_dataset_options_are_checked_against_each_loaders_declaration():
    from analysis import datasets as D

    with pytest.raises(ValueError, match=r"dataset 'moth': unknown option\(s\) \['sfrq'\].*'sfreq'"):
        D.check_dataset_options("moth", {"sfrq": 1000})
    with pytest.raises(ValueError, match="dataset 'moth': option 'edge' is 'keep'"):
        D.check_dataset_options("moth", {"sfreq": 1000, "edge": "keep"})
    with pytest.raises(ValueError, match="option 'chapter' is 11 .int.; expected {9, 10}"):
        D.check_dataset_options("harry_potter", {"chapter": 11})
    D.check_dataset_options("moth", {"sfreq": 1000, "stories": ["a"], "edge": "drop"})
    D.check_dataset_options("table", {"word": "token", "measures": ["rt"], "story": False})


def test_every_loader_documents_types_its_own_defaults_fit():
    import inspect

    from analysis import datasets as D

    for name in D.dataset_names():
        fn = D.loader_function(D.dataset_spec(name))
        declared = P.declared_option_types(fn)
        options = {}
        for p in list(inspect.signature(fn).parameters.values())[1:]:
            if p.default is not inspect.Parameter.empty:
                assert p.name in declared, (name, p.name)  # every option has a declared type
                options[p.name] = list(p.default) if isinstance(p.default, tuple) else p.default
        P.check_loader_options(fn, options, name)


def test_open_dataset_checks_options_before_reading_the_file(tmp_path):
    from analysis._utils import DataError
    from analysis.datasets import open_dataset

    with pytest.raises(DataError, match="option 'measures' is 5"):
        open_dataset("table", tmp_path / "missing.tsv", measures=5)
