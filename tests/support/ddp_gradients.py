"""Run under torchrun with two processes: DDP with cross-process batch norm against one process.

Prints the largest relative gradient difference. In float64, so that only a wrong formula or a
missing all-reduce can make it large (float32 alone differs by about 1% at initialisation).
"""

import sys

import torch
import torch.distributed as dist
import torch.nn.functional as F
from resnet_studio.models.distributed import CrossProcessBatchNorm2d
from resnet_studio.models.registry import build_model
from torch.nn.parallel import DistributedDataParallel

dist.init_process_group("gloo")
rank, size = dist.get_rank(), dist.get_world_size()
torch.manual_seed(0)
synced = build_model("resnet20", num_classes=10, in_channels=1, norm_layer=CrossProcessBatchNorm2d).double()
single = build_model("resnet20", num_classes=10, in_channels=1).double()
single.load_state_dict(synced.state_dict())
images, labels = torch.randn(8 * size, 1, 28, 28, dtype=torch.float64), torch.randint(0, 10, (8 * size,))
share = slice(8 * rank, 8 * (rank + 1))
replicated = DistributedDataParallel(synced)  # kept: its reducer averages the gradients during backward
F.cross_entropy(replicated(images[share]), labels[share]).backward()
F.cross_entropy(single(images), labels).backward()
worst = max(float((a.grad - b.grad).abs().max() / b.grad.abs().max().clamp_min(1e-12))
            for a, b in zip(synced.parameters(), single.parameters()))
running = float((synced.layer1[0].bn1.running_var - single.layer1[0].bn1.running_var).abs().max())
print(f"rank {rank} worst {worst:.3e} running {running:.3e}")
dist.destroy_process_group()
sys.exit(0)
