"""The Streamlit web UI: `rag ui` serves `app/main.py`. It only calls the `KnowledgeBase` facade."""
