"""What people look at: rule inspection, run reports (HTML) and rule comparisons."""
