"""Uploaded files onto disk: clean names, allowed types, the size limit, nothing outside the folder."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from app.state import clean_name, new_kb_path
from app.uploads import Quota, save_uploads


@dataclass
class Upload:
    name: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    def getvalue(self) -> bytes:
        return self.data


@pytest.mark.parametrize("raw, clean", [
    ("../../etc/passwd.txt", "passwd.txt"),
    ("..\\..\\boot.ini.txt", "boot.ini.txt"),
    ("..", ""),
    (".hidden.md", "hidden.md"),
    ("报告 2024（终稿）.docx", "报告 2024（终稿）.docx"),
    ("a\x00b\nc\t.pdf", "abc.pdf"),  # control characters go, tabs and newlines included
    ("<script>x.md", "_script_x.md"),
    ("x" * 300 + ".xlsx", "x" * 115 + ".xlsx"),
])
def test_clean_name(raw, clean):
    assert clean_name(raw) == clean


def test_new_kb_path_is_one_folder_under_data_kbs():
    assert new_kb_path("合同 2024.v2").as_posix() == "data/kbs/合同-2024-v2"
    assert new_kb_path("../../x").as_posix() == "data/kbs/x"
    with pytest.raises(ValueError):
        new_kb_path("../..")


def test_save_uploads_filters_and_writes_only_inside(tmp_path):
    folder = tmp_path / "kb" / "uploads"
    files = [Upload("../../a.md", b"a"), Upload("b.exe", b"b"), Upload("big.pdf", b"x" * (1024 * 1024 + 1)),
             Upload("noext", b"c"), Upload("d.MD", b"old"), Upload("d.MD", b"new")]
    saved, rejected = save_uploads(files, folder, max_mb=1)
    assert saved == [folder / "a.md", folder / "d.MD"]
    assert (folder / "d.MD").read_bytes() == b"new"  # a second upload of one name replaces the copy
    assert [name for name, _ in rejected] == ["b.exe", "big.pdf", "noext"]
    assert "not a supported type" in rejected[0][1] and "1 MB limit" in rejected[1][1]
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a.md", "d.MD"]  # no .part left


def test_a_session_quota_refuses_files_by_name_once_spent(tmp_path):
    quota = Quota(max_files=2, max_mb=1)
    files = [Upload("a.md", b"a" * 600_000), Upload("b.exe", b"b"), Upload("c.md", b"c" * 600_000),
             Upload("d.md", b"d"), Upload("e.md", b"e")]
    saved, rejected = save_uploads(files, tmp_path, max_mb=5, quota=quota)
    assert [p.name for p in saved] == ["a.md", "d.md"]  # a refused type costs nothing
    reasons = dict(rejected)
    assert "max_session_upload_mb" in reasons["c.md"] and "0.4 MB left" in reasons["c.md"]
    assert "limit of 2 uploaded files (setting max_session_uploads)" in reasons["e.md"]
    assert (quota.files, quota.bytes) == (2, 600_001)
    assert save_uploads([Upload("f.md", b"f")], tmp_path, max_mb=5, quota=quota)[0] == []  # spent for good
