"""The course the lessons reproduce: five course notes in Korean, what each covers, and the lessons
built on it. The notes are blog posts with PyTorch code and its printed output; each lesson's spec
quotes its note's settings and figures (``LessonSpec.course``). Quotations carry their English.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from shared.specs.base import Quote

# The settings a lesson takes from its note, in the order the course page lists them.
SETTINGS = ("seed", "model", "loss", "optimizer", "lr", "epochs", "batch_size", "p", "shuffle", "drop_last")


@dataclass(frozen=True)
class Note:
    id: str                     # "000": the note's number, as the specs cite it ("000, section 5")
    title: str                  # the note's title, in English
    original_title: str         # as the note writes it ("": the note has no title)
    covers: str                 # what it covers, in our words
    lessons: tuple[str, ...]    # the lessons built on it, in course order
    quotes: tuple[Quote, ...]   # its own words on what it teaches


# 004's verdict on its three models, which batchnorm's spec quotes as the course's result
DROPOUT_WORST = Quote("결과를 보면, 예상과 달리 Dropout을 적용한 결과가 성능이 가장 낮음을 알 수 있다.",
                      "The results show that, unlike what we expected, the model with Dropout performs worst.")

NOTES: tuple[Note, ...] = (
    Note("000", "Stochastic gradient descent", "Stochastic Gradient Descent",
         "Why minibatches (a GPU's memory is expensive and fills fast), y = 2x + noise on 100,000 points, "
         "TensorDataset and DataLoader on ten points in batches of 3, full-batch gradient descent against "
         "minibatch SGD on MNIST 0/1 (784-32-1, Adam, 700 full-batch epochs against 100 epochs of batch "
         "2048, seed 21345), the same on a GPU, and multiclass classification of MNIST 0/1/2 (seed 43052).",
         ("datasets", "gd_vs_sgd", "multiclass", "data_parallel"),
         (Quote("전체 데이터셋이 아니라 일부 샘플(1개 또는 소수의 샘플)만 사용하여 파라미터를 업데이트하는 것",
                "updating the parameters with only some of the samples (one, or a few), not the whole data set",
                context="what SGD is"),
          Quote("목표 : 확률적경사하강법과 그냥 경사하강법의 성능을 ’동일 반복횟수’로 비교해보자",
                "Goal: compare stochastic gradient descent and plain gradient descent at ‘the same number "
                "of iterations’"))),
    Note("001", "The PyTorch quickstart", "Quick Start",
         "PyTorch's quickstart tutorial retold: tensors and their dtypes, a custom image Dataset (an "
         "annotations CSV and read_image), FashionMNIST with ToTensor and a one-hot Lambda target "
         "transform, the 784-512-512-10 network, autograd, and the optimization loop with the optimizers "
         "it explains in words (SGD, momentum, RMSprop, Adam). It names lr, batch size and epochs as "
         "hyperparameters without values; the lessons take the tutorial's.",
         ("datasets", "quickstart"),
         (Quote("데이터 셋을 받아 미니배치로 분할하고 병렬로 데이터를 로드하기 위한 기능 제공 → 모델에 데이터를 효율적으로 "
                "제공할 수 있다.",
                "it takes a data set, splits it into minibatches and loads the data in parallel → so the model "
                "is fed its data efficiently",
                context="what a DataLoader does"),)),
    Note("002", "Learning PyTorch with Examples", "Graident Descent",
         "PyTorch's “Learning PyTorch with Examples” retold: y = sin(x) on [-pi, pi] fitted by a cubic in "
         "numpy, with tensors, with autograd, with a custom autograd Function (the Legendre polynomial "
         "P3), with nn and with optim (RMSprop), 2,000 steps each, the loss printed every 100 steps.",
         ("poly_fit",),
         (Quote("본질적으로, PyTorch에는 두가지 주요한 특성이 있음",
                "at its core, PyTorch has two main features",
                context="n-dimensional tensors like NumPy's that run on a GPU, and automatic differentiation"),
          Quote("3차 다항식을 사용해, $y=sin(x)$에 근사(fit)하는 문제 다루기",
                "the problem of fitting $y=sin(x)$ with a third-degree polynomial"))),
    Note("003", "Getting started with PyTorch 2", "PyTorch 입문2",
         "Softmax regression (one-hot encoding, the cost written five ways from scratch to "
         "F.cross_entropy, seed 1; a 784-10 model on MNIST, seed 777, batch 100, 15 epochs, SGD lr 0.1) "
         "and artificial neural networks (the perceptron, AND/NAND/OR gates, and an MLP that solves XOR: "
         "2-10-10-10-1 with sigmoids, BCELoss, SGD lr 1, 10,001 steps, seed 777).",
         ("softmax_regression", "compiled_loop", "xor"),
         (Quote("XOR 게이트는 AND, NAND, OR 게이트를 조합하면 만들 수 있음.",
                "an XOR gate can be made by combining AND, NAND and OR gates."),
          Quote("즉, layer를 더 쌓으면 만들 수 있음",
                "that is, it can be made by stacking more layers"))),
    Note("004", "Overfitting, Dropout and Batch Normalization", "",
         "Overfitting and what helps against it, Dropout in train and eval mode, Batch Normalization, and "
         "the whole implementation: a BatchNorm model, a Dropout model and a plain MLP (784-32-32-10) "
         "trained side by side on MNIST (Adam lr 0.01, 10 epochs, batch 32, p 0.3) with per-epoch "
         "training and validation curves. The note follows the YouTube course “모두를 위한 딥러닝 시즌2” "
         "(Deep Learning for Everyone, season 2).",
         ("dropout", "batchnorm"),
         (Quote("Dropout은 Train 시에는 사용하지만, Test 시에는 학습된 모든 노드를 사용해야 한다.",
                "Dropout is used in training, but at test time every trained node must be used."),
          DROPOUT_WORST,
          Quote("잘 생각해보면, 층이 3개밖에 없는 간단한 모델이기 때문에 노드 간 연결을 끊는 Dropout을 적용할 경우 "
                "성능이 떨어지는 것은 당연하다.",
                "Thinking it over, this is only natural: in a simple model of just three layers, Dropout, "
                "which cuts connections between nodes, lowers performance."))),
)


def note_ids(citation: str) -> list[str]:
    """The notes a spec's ``course["note"]`` cites: "000, section 2 A-C ...; 001, section 2" -> ["000", "001"]."""
    return list(dict.fromkeys(re.findall(r"\b(00\d)\b", citation)))


def get(note_id: str) -> Note:
    return next(n for n in NOTES if n.id == note_id)
