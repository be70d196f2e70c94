import json
from pathlib import Path

from bench.make_corpus import make_corpus
from ingest.loaders import load

PASSAGES = [
    {"title": "长江", "text": "长江全长约六千三百公里，是中国第一长河。它发源于青藏高原。流域面积约一百八十万平方公里。"},
    {"title": "黄河", "text": "黄河是中国第二长河，全长约五千四百六十四公里。黄河流经九个省区。它最后注入渤海。"},
]


def corpus_data(tmp_path: Path) -> Path:
    data = tmp_path / "cmrc"
    data.mkdir()
    with open(data / "cmrc2018_dev_sub300.corpus.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(p, ensure_ascii=False) + "\n" for p in PASSAGES)
    return data


def test_generated_files_load_with_the_projects_loaders(tmp_path):
    paths = make_corpus(tmp_path / "office", 3, data=corpus_data(tmp_path))
    assert sorted(p.suffix for p in paths) == [".docx", ".pdf", ".xlsx"]
    for path in paths:
        sections = list(load(path))
        text = "".join(s.text for s in sections)
        assert "中国" in text, path  # the CJK text survives: a PDF font without a ToUnicode map would lose it
        if path.suffix == ".pdf":
            assert {s.page for s in sections} == {1, 2}
        if path.suffix == ".xlsx":
            assert {s.sheet for s in sections} == {"记录", "汇总"}


def test_generation_is_deterministic_and_skips_existing_files(tmp_path):
    data = corpus_data(tmp_path)
    first = make_corpus(tmp_path / "a", 3, data=data)
    second = make_corpus(tmp_path / "b", 3, data=data)
    for a, b in zip(first, second):
        assert [s.text for s in load(a)] == [s.text for s in load(b)]
    stamp = first[0].stat().st_mtime_ns
    make_corpus(tmp_path / "a", 3, data=data)
    assert first[0].stat().st_mtime_ns == stamp
