"""Score prompts on a model: rank classification, baselines, the few-shot pick."""
