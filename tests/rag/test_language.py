import os
import subprocess
import sys
from pathlib import Path

from rag.language import query_tokens, tokenize

ROOT = Path(__file__).resolve().parents[2]


def test_chinese_is_segmented_and_question_words_dropped():
    tokens = tokenize("如何调整温度参数？")
    assert {"调整", "温度", "参数"} <= set(tokens)
    assert "如何" not in tokens
    assert not any(t in tokens for t in ("？", "?"))


def test_search_mode_keeps_long_words_and_their_parts():
    tokens = tokenize("中华人民共和国")
    assert "中华人民共和国" in tokens and "共和国" in tokens


def test_compound_tokens_stay_whole_and_also_split():
    tokens = tokenize("Set Top-P and use Q4_K_M with Qwen2.5-Coder")
    assert {"top-p", "q4_k_m", "qwen2.5-coder"} <= set(tokens)
    assert {"top", "coder", "q4"} <= set(tokens)
    assert "1.5b" in tokenize("the 1.5B model")


def test_english_is_lowercased_and_stopwords_dropped():
    assert tokenize("What is the Temperature of the model?") == ["temperature", "model"]


def test_punctuation_and_whitespace_produce_no_tokens():
    assert tokenize("  ，。！？ -- ... \n\t ()[]{} ") == []


def test_full_width_text_is_normalised():
    assert tokenize("ＱＷＥＮ２ 模型") == ["qwen2", "模型"]


def test_mixed_script_run_is_split_at_the_script_boundary():
    tokens = tokenize("Qwen2.5模型的量化")
    assert tokens[0] == "qwen2.5"
    assert "模型" in tokens and "量化" in tokens and "的" not in tokens


def test_query_tokens_are_unique_and_in_order():
    assert query_tokens("temperature Temperature 温度 温度") == ["temperature", "温度"]


def test_import_is_lazy_and_segmenting_is_quiet():
    code = ("import sys; import rag.language as k; assert 'jieba' not in sys.modules; "
            "k.tokenize('如何调整温度参数'); assert 'jieba' in sys.modules")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""
