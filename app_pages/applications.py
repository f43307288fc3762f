"""What BERT is used for, made real on the loaded model: a trained classification head and sentence similarity."""

import streamlit as st

from bertviz_core import InputError
from bertviz_core.charts.meaning import class_probabilities, similarity_matrix_figure, training_curve
from bertviz_core.classifier import classify, train_head
from bertviz_core.meaning import labelled_lines, sentence_embeddings, similarity_matrix
from app_pages import compute
from app_pages.sidebar import current_lens
from app_pages.state import keep_trained_head, trained_head, url_choice, url_text
from app_pages.text import md
from app_pages.figures import chart

REVIEWS = """positive: A wonderful film, I loved every minute.
positive: Brilliant acting and a moving story.
positive: The best meal I have had in years.
positive: Friendly staff and a lovely view.
negative: A dull, boring film that went nowhere.
negative: Terrible service and cold food.
negative: I want my money back, it was awful.
negative: The plot made no sense and the acting was weak."""
NEW_REVIEWS = "What a delightful evening.\nThe worst hotel we ever stayed in."
SENTENCES = ("A man is playing a guitar.\nSomeone plays an instrument.\nThe stock market fell sharply today.\n"
             "Shares dropped at the opening bell.")

model = current_lens().model

st.title("Applications")
st.subheader("A classification head, trained here in seconds")
st.markdown(f"To classify text, BERT gets a small **head**: one linear layer and a softmax on top of a sentence "
            f"vector. Here the **encoder stays frozen**: {md(model.name)} only turns each sentence into a vector "
            "(the [CLS] vector, or the mean of the word vectors), and only the head's weights are trained. Real "
            "fine-tuning also adjusts the encoder, usually on thousands of examples.")
examples = url_text("examples", "Labelled examples, one “label: sentence” per line", REVIEWS, lines=8)
pooling = url_choice("pooling", "Sentence vector", ["mean", "cls"], "mean", horizontal=True,
                     format_func={"mean": "mean of the tokens", "cls": "the [CLS] token"}.get)
labelled = [(label, text) for label, text in labelled_lines(examples) if label]
labels, texts = [label for label, _ in labelled], [text for _, text in labelled]
if st.button("Train the head", type="primary"):
    try:
        vectors = sentence_embeddings(compute.analyses(model, texts), pooling)
        keep_trained_head(model, train_head(vectors, labels, pooling=pooling))
    except InputError as error:
        st.info(md(str(error)))
head = trained_head(model)
if head is not None:
    chart(st, training_curve(head))
    new = [line.strip() for line in st.text_area("New sentences to classify", NEW_REVIEWS).splitlines()
           if line.strip()]
    if new:
        vectors = sentence_embeddings(compute.analyses(model, new), head.pooling)
        chart(st, class_probabilities(head, classify(head, vectors), new))
else:
    st.caption("Press the button to train: a few hundred steps of gradient descent on the examples above.")

st.subheader("Semantic similarity")
st.markdown("Sentences whose mean-pooled vectors point the same way mean similar things. all-MiniLM-L6-v2 "
            "(pick *embedded* as the model) was trained for exactly this; a plain BERT, or the offline masked-LM "
            "model fine-tuned from it, gives rougher similarities.")
similar = [line.strip() for line in url_text("compare", "Sentences, one per line", SENTENCES, lines=4).splitlines()
           if line.strip()]
if len(similar) >= 2:
    vectors = sentence_embeddings(compute.analyses(model, similar))
    chart(st, similarity_matrix_figure(similarity_matrix(vectors), similar))
else:
    st.info("Give at least two sentences.")

st.subheader("The rest of the seed's list needs fine-tuning")
st.markdown(
    """
| task | what is added | what training teaches |
|---|---|---|
| sentiment, topic, spam | a linear + softmax head on the [CLS] or pooled vector (as above) | the head, and usually the encoder too, on labelled sentences |
| named entities (NER) | a linear + softmax head on **every** token's vector | one label per token (person, place, ...) |
| question answering | two linear heads scoring each token as the answer's start and end | on question + passage pairs (SQuAD) |
| search | nothing, or a sentence-embedding objective | pulling matching query/document vectors together (like all-MiniLM-L6-v2) |

A pre-trained BERT does none of these out of the box: its masked-LM head only fills gaps. Fine-tuning keeps the
encoder's weights as the starting point and trains them further, with the new head, on the task's examples.
"""
)
