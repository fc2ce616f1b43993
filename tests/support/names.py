"""Names as clinics' systems hold them, for property tests of the texts they go into."""

from __future__ import annotations

from hypothesis import strategies as st

#: letters, accents and marks from many scripts, invisible and control characters, emoji,
#: GSM-7 extension characters: the characters names from clinics' systems have been seen to hold
TRICKY = (
    "áéíóúàèìòùâêîôûäëïöüãõñçÁÉÍÓÚÀÈÌÒÙÂÊÎÔÛÄËÏÖÜÃÕÑÇøØåÅæÆßłŁđĐőŐűŰşŞğĞıİčČřŘžŽšŠœŒ"
    "\u0301\u0300\u0308\u0327\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2066\u2067\u2068\u2069\u00ad\ufeff\x00\x07\x1b\t\n\r\f\u00a0\u2009\u3000"
    "‘’“”–—…😀👍🏽王芳Анна Νίκος{}[]~^|€\\ -'."
)
#: first names: any text, text made of the tricky characters, or none (an unknown number)
NAMES = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=TRICKY + "abcdefghijklmnopqrstuvwxyzAEIOU", max_size=60),
    st.none(),
)
