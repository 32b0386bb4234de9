"""The PyTorch DCGAN tutorial's recipe, sized for 28x28 Fashion-MNIST: the baseline to beat.

The tutorial (pytorch.org/tutorials/beginner/dcgan_faces_tutorial.html) trains 64x64 faces with
nz=100, ngf=ndf=64, batch 128, Adam(lr=2e-4, betas=(0.5, 0.999)), BCE on a sigmoid output,
weights ~ N(0, 0.02), BatchNorm ~ N(1, 0.02), BatchNorm + ReLU in G, LeakyReLU(0.2) in D, no
biases. Its G is nz -> 8ngf (4x4) -> 4ngf (8) -> 2ngf (16) -> ngf (32) -> nc (64); its D mirrors
it, ndf (32) -> 2ndf (16) -> 4ndf (8) -> 8ndf (4) -> 1.

Sized for 28x28 we keep the *last* layers of each network, so every layer that remains has the
tutorial's width at its position relative to the image (ngf channels one step below full
resolution, 2ngf below that), and G mirrors D exactly:

    G: z [100] -ConvT(100, 128, 7, 1, 0)+BN+ReLU-> 7x7 -ConvT(128, 64, 4, 2, 1)+BN+ReLU-> 14x14
       -ConvT(64, 1, 4, 2, 1)+Tanh-> 28x28
    D: 28x28 -Conv(1, 64, 4, 2, 1)+LReLU-> 14x14 -Conv(64, 128, 4, 2, 1)+BN+LReLU-> 7x7
       -Conv(128, 1, 7, 1, 0)+Sigmoid-> 1

(The alternative, ngf*4 at 7x7 and ngf*2 at 14x14, costs about twice as much per image, so it
would buy the tutorial fewer steps in the same time; the choice above is the kinder baseline.)

The training loop is the tutorial's, line for line: D on a real batch (label 1), then on
G(z).detach() (label 0), one Adam step; then G through D on the *same* fake batch, label 1
(the non-saturating loss). Data are the full 60,000 training images in memory, reshuffled
every epoch (the tutorial's DataLoader does the same, only slower).
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

NZ, NGF, NDF, BATCH, LR, BETAS = 100, 64, 64, 128, 2e-4, (0.5, 0.999)


def weights_init(m: nn.Module) -> None:
    """The tutorial's init: conv weights ~ N(0, 0.02); BatchNorm weight ~ N(1, 0.02), bias 0."""
    name = m.__class__.__name__
    if name.find("Conv") != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif name.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


class Generator(nn.Module):
    def __init__(self, nz: int = NZ, ngf: int = NGF, nc: int = 1):
        super().__init__()
        self.cfg = SimpleNamespace(z_dim=nz)  # what gannotes.training.generate needs
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 2, 7, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),  # [N, 2ngf, 7, 7]
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),  # [N, ngf, 14, 14]
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),  # [N, nc, 28, 28]
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z.view(z.shape[0], -1, 1, 1))


class Discriminator(nn.Module):
    def __init__(self, ndf: int = NDF, nc: int = 1):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),  # [N, ndf, 14, 14]
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),  # [N, 2ndf, 7, 7]
            nn.Conv2d(ndf * 2, 1, 7, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1)


class TutorialRecipe:
    """The tutorial's models, optimisers and loop; ``step()`` is one iteration of its loop."""

    name = "tutorial"

    def __init__(self, data: torch.Tensor, seed: int = 0, batch_size: int = BATCH):
        torch.manual_seed(seed)
        self.G, self.D = Generator(), Discriminator()
        self.G.apply(weights_init)
        self.D.apply(weights_init)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=LR, betas=BETAS)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=LR, betas=BETAS)
        self.criterion = nn.BCELoss()
        self.data, self.batch_size = data, batch_size
        self.images_per_step = batch_size
        self.gen = torch.Generator().manual_seed(seed + 2)
        self.noise_gen = torch.Generator().manual_seed(seed + 1)
        self.perm, self.pos, self.steps = torch.empty(0, dtype=torch.long), 0, 0

    def _real(self) -> torch.Tensor:
        b = self.batch_size
        if self.pos + b > len(self.perm):  # drop_last, as a DataLoader epoch would end
            self.perm, self.pos = torch.randperm(len(self.data), generator=self.gen), 0
        idx = self.perm[self.pos : self.pos + b]
        self.pos += b
        return self.data[idx]

    def step(self) -> dict[str, float]:
        real = self._real()
        b = real.shape[0]
        ones, zeros = torch.full((b,), 1.0), torch.full((b,), 0.0)
        # (1) update D: maximise log(D(x)) + log(1 - D(G(z)))
        self.D.zero_grad()
        out = self.D(real)
        err_d_real = self.criterion(out, ones)
        err_d_real.backward()
        d_x = out.mean().item()
        noise = torch.randn(b, NZ, generator=self.noise_gen)
        fake = self.G(noise)
        out = self.D(fake.detach())
        err_d_fake = self.criterion(out, zeros)
        err_d_fake.backward()
        self.opt_d.step()
        # (2) update G: maximise log(D(G(z))), on the same fake batch
        self.G.zero_grad()
        out = self.D(fake)
        err_g = self.criterion(out, ones)
        err_g.backward()
        self.opt_g.step()
        self.steps += 1
        return {"loss_d": (err_d_real + err_d_fake).item(), "loss_g": err_g.item(), "d_real": d_x}


if __name__ == "__main__":
    from gannotes.data import load_fashion_mnist

    r = TutorialRecipe(load_fashion_mnist("train").images)
    for _ in range(20):
        s = r.step()
    print(s, sum(p.numel() for p in r.G.parameters()), sum(p.numel() for p in r.D.parameters()))
