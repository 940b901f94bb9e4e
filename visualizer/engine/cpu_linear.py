"""A float32 model's linear layers on oneDNN's packed weights, for the CPU.

PyTorch's `nn.Linear` on the CPU calls MKL's sgemm with the weight as stored. Measured on this
project's 2-core AMD EPYC (Zen, AVX-512), SmolLM2-135M's linear layers of one forward (30 layers and
the output head), float32: 1 row 15.6 ms with MKL, 13.1 with oneDNN on a packed weight; 2 rows
28.6 / 12.9; 4 rows 35.7 / 8.6; 30 rows 76.9 / 24.8; a 512-token prefill chunk's MLP up-projection
4.1 / 1.8 ms. Whole forwards: one token 41 -> 25 ms, a 30-row step 130 -> 57 ms. The results are
the same arithmetic in another order: within 5e-6 of MKL's on unit-scale inputs (the tests hold a
packed tiny model's logits to the unpacked one's within 1e-5, SmolLM2's within 2e-4).

`pack_linears(model)` swaps every `nn.Linear` for a `PackedLinear` holding the weight in oneDNN's
blocked layout (`torch.ops.mkldnn._reorder_linear_weight`, the op torch.compile's CPU backend
uses) and returns how many it swapped. The dense weights go with the swapped modules, except where
another module shares them (a tied output head keeps the embedding's). The tensors left (embedding,
norms) are then copied out of the weights file's memory map: while one of them kept the map alive,
the file's pages that packing had read stayed in the process's memory (SmolLM2: RSS 1,394 MiB after
packing, 992 with the copies; 396 before packing, but the dense weights were not read yet then).
It leaves the model as it is where packing does not apply: a model not on the CPU, not float32, or
a torch without oneDNN.
What is left out: training (the packed op has no backward), other dtypes (bf16 on the CPU has its
own kernels), moving a packed model to another device (pack after `.to()`).
"""

import torch


class PackedLinear(torch.nn.Module):
    """`nn.Linear`'s forward on a weight packed for oneDNN (inference only)."""

    def __init__(self, linear):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.packed_weight = torch.ops.mkldnn._reorder_linear_weight(linear.weight.detach(), None)
        self.bias = linear.bias

    def forward(self, inputs):
        return torch.ops.mkldnn._linear_pointwise(inputs, self.packed_weight, self.bias, "none", [], "")

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, packed for oneDNN"


def packing_applies(model):
    """True where packing is wanted and works: float32 on the CPU, with oneDNN in this torch."""
    first = next(model.parameters(), None)
    return (first is not None and first.device.type == "cpu" and first.dtype == torch.float32
            and torch.backends.mkldnn.is_available())


def pack_linears(model):
    """Swap the model's `nn.Linear` layers for `PackedLinear` in place -> how many were swapped."""
    if not packing_applies(model):
        return 0
    swapped = 0
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if type(child) is torch.nn.Linear:
                setattr(module, name, PackedLinear(child))
                swapped += 1
    if swapped:
        for tensor in [*model.parameters(), *model.buffers()]:
            tensor.data = tensor.data.clone()  # off the weights file's map, which can then go
    return swapped
