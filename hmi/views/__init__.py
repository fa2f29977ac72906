"""One module per HMI page; each exposes `page()` for st.navigation.

Not named `pages/`: Streamlit treats a `pages/` folder beside the main script as legacy multipage
scripts, which breaks st.navigation (and AppTest reruns).
"""
