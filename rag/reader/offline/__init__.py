"""The offline reader: candidate spans scored by learned weights, no download needed.

How it reads: the question is analysed (what kind of answer, which unit, the words on each
side of the question word) and its terms weighed (:mod:`.terms`); the sentences of the
retrieved passages are ranked by how much of the question they hold (:mod:`.sentences`);
candidate spans (numbers with units, dates, quoted terms, names, noun phrases) are taken
from the best sentences with what they need of their sentence, cached (:mod:`.reads`),
and each gets features (:mod:`.features`, columns named in :mod:`.columns`, bigrams
compared as integer codes, :mod:`.codes`): does its kind fit the question, does its unit,
do the words around it align with the words around the question word, how close it stands
to the question's words, is it already in the question. A logistic model over those
features (trained by ``eval/train_reader.py`` on questions generated from the corpus plus
the dev split) ranks the candidates; a second small model turns the winner's features
into a calibrated probability of being right (:mod:`.reader`, weights in
``weights.json``).
"""

from rag.reader.offline.reader import OfflineReader

__all__ = ["OfflineReader"]
