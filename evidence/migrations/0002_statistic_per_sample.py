# Statistics counted per sample: kind, reducer, mean, stderr and the trial-level counts.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("evidence", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="runstatistic",
            name="k_any",
            field=models.IntegerField(
                blank=True, help_text="Samples where any epoch had value 1.", null=True
            ),
        ),
        migrations.AddField(
            model_name="runstatistic",
            name="k_trials",
            field=models.IntegerField(
                blank=True, help_text="Trials (sample x epoch) with value 1.", null=True
            ),
        ),
        migrations.AddField(
            model_name="runstatistic",
            name="kind",
            field=models.CharField(
                choices=[
                    ("binary", "binary (every sample's value is 0 or 1)"),
                    ("numeric", "numeric (mean and standard error; no k)"),
                ],
                default="binary",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="runstatistic",
            name="mean",
            field=models.FloatField(
                blank=True, help_text="Mean of the samples' values.", null=True
            ),
        ),
        migrations.AddField(
            model_name="runstatistic",
            name="n_trials",
            field=models.IntegerField(
                blank=True, help_text="Trials scored (sample x epoch); empty for totals.", null=True
            ),
        ),
        migrations.AddField(
            model_name="runstatistic",
            name="no_answer_trials",
            field=models.IntegerField(
                default=0, help_text="Trials scored N (no answer, a refusal)."
            ),
        ),
        migrations.AddField(
            model_name="runstatistic",
            name="partial_trials",
            field=models.IntegerField(default=0, help_text="Trials scored P (partial)."),
        ),
        migrations.AddField(
            model_name="runstatistic",
            name="reducer",
            field=models.CharField(
                blank=True,
                help_text="How each sample's epochs were reduced to one value; empty for one epoch.",
                max_length=100,
            ),
        ),
        migrations.AddField(
            model_name="runstatistic",
            name="stderr",
            field=models.FloatField(
                blank=True, help_text="Standard error of that mean (sd / sqrt(n)).", null=True
            ),
        ),
        migrations.AddField(
            model_name="runstatistic",
            name="unscored",
            field=models.IntegerField(default=0, help_text="Samples with no value for this score."),
        ),
        migrations.AlterField(
            model_name="runstatistic",
            name="k",
            field=models.IntegerField(
                blank=True,
                help_text="Samples whose value is 1; empty for a numeric score.",
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="runstatistic",
            name="n",
            field=models.IntegerField(
                help_text="Samples scored (errored and unscored samples excluded)."
            ),
        ),
        migrations.AddConstraint(
            model_name="runstatistic",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("k__isnull", True), ("kind", "numeric")),
                    models.Q(("k__isnull", False), ("kind", "binary")),
                    _connector="OR",
                ),
                name="statistic_k_only_when_binary",
            ),
        ),
    ]
