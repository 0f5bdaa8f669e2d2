"""GNet8j / GNet8r on NSD (St-Yves et al., methods §4): transfer matrix and asymmetry index,
feature-group tuning, the AlexNet-fwRF ridge baseline. Not registered as a study yet."""
