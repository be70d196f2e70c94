"""The LangChain baseline: loaders → RecursiveCharacterTextSplitter → HuggingFaceEmbeddings → FAISS.

Set up the way a careful LangChain user would for Chinese, on equal terms with the project:
- the same e5 model directory, with e5's 'passage: ' / 'query: ' prompts and normalised vectors, batch 32;
- chunks of 160 e5 tokens with 32 overlap (the project's defaults), counted with the model's own tokenizer
  (`from_huggingface_tokenizer`), split at Chinese sentence ends before commas and characters;
- stock loaders: PyPDFLoader, Docx2txtLoader, TextLoader, CSVLoader. LangChain's only XLSX loader needs
  `unstructured` (hundreds of MB), so XLSX goes through a ten-line openpyxl loader, one Document per sheet.

Needs the `bench` extra: langchain-community, langchain-text-splitters, langchain-huggingface, docx2txt.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

CHUNK_TOKENS, OVERLAP_TOKENS = 160, 32
SEPARATORS = ["\n\n", "\n", "。", "！", "？", "；", "，", " ", ""]


def _xlsx_loader(path: str):
    from langchain_core.document_loaders import BaseLoader
    from langchain_core.documents import Document

    class XlsxLoader(BaseLoader):
        def lazy_load(self) -> Iterator[Document]:
            from openpyxl import load_workbook

            wb = load_workbook(path, read_only=True, data_only=True)
            for ws in wb.worksheets:
                lines = [" | ".join("" if v is None else str(v) for v in row) for row in ws.iter_rows(values_only=True)]
                yield Document(page_content="\n".join(lines), metadata={"source": path, "sheet": ws.title})
            wb.close()

    return XlsxLoader()


def loader_for(path: str):
    from langchain_community.document_loaders import (
        CSVLoader,
        Docx2txtLoader,
        PyPDFLoader,
        TextLoader,
    )

    suffix = Path(path).suffix.lower()
    if suffix == ".pdf":
        return PyPDFLoader(path)
    if suffix == ".docx":
        return Docx2txtLoader(path)
    if suffix in (".xlsx", ".xlsm"):
        return _xlsx_loader(path)
    if suffix == ".csv":
        return CSVLoader(path, encoding="utf-8")
    return TextLoader(path, encoding="utf-8")


def load_all(paths: list[str]) -> list:
    docs = []
    for path in paths:
        docs.extend(loader_for(path).load())
    return docs


def splitter(model_path: str):
    from langchain_text_splitters import RecursiveCharacterTextSplitter
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    return RecursiveCharacterTextSplitter.from_huggingface_tokenizer(
        tokenizer, chunk_size=CHUNK_TOKENS, chunk_overlap=OVERLAP_TOKENS, separators=SEPARATORS,
        keep_separator="end")


def embeddings(model_path: str, batch_size: int = 32):
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(
        model_name=model_path, model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True, "batch_size": batch_size, "prompt": "passage: "},
        query_encode_kwargs={"normalize_embeddings": True, "prompt": "query: "})


def e5_path(settings) -> str:
    from rag.models.bundled import resolve_embedding_model

    return str(resolve_embedding_model(settings.embedding_model, Path(settings.cache_dir)))
