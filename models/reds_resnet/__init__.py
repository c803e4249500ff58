"""REDS (nested width subnetworks, arXiv 2311.13349) on the Fashion-MNIST
ResNet-20 (models/backbones/resnet_cifar.py:resnet20, as models/train_fmnist.py
trains it): models/train_reds_resnet.py is the command line.

| module | purpose |
|---|---|
| nets.py | the ResNet-20 with free stream / inner widths, unit groups, MACs, parameters |
| sliced.py | prefix-sliced forward, materialised narrow copies, equality check |
| importance.py | step 2, Σ|w ⊙ g| per unit (producers, BN, consumers) |
| reorder.py | step 3, permutation by importance, logits check |
| knapsack.py | step 4, exact bottom-up knapsack (branch and bound + DP; milp check) |
| finetune.py | step 5, BN folding, joint fine-tuning with the REDS loss |
| records.py | step 6, records of the head at every level |
| package.py | step 7, ONNX export, dense-node roles, LEVELS, conversion |
| engine.py | step 8, `dyce info` / `dyce eval` at every level |
| report.py | WORK/accuracy.md |
| pipeline.py | the cached steps |
"""
