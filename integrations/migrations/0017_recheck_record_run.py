# The run that marked a record to read again (that run itself does not read it again; rows kept
# before this field have none and are read by the next run).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('integrations', '0016_recheck_record'),
    ]

    operations = [
        migrations.AddField(
            model_name='recheckrecord',
            name='run',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='integrations.syncrun'),
        ),
    ]
