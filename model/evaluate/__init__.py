"""Prompt-adherence and reconstruction measurements behind the model card."""
