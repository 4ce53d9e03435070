"""The support desk's state of each thread (status, assignee, waiting since) and notes.

Existing threads start open and unassigned; a thread whose newest message
is the customer's waits since the first of their messages after the team's
last reply.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('chat', '0002_canned_reply'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='thread',
            options={'verbose_name': 'conversation', 'verbose_name_plural': 'conversations'},
        ),
        migrations.AddField(
            model_name='message',
            name='note',
            field=models.BooleanField(db_default=False, default=False),
        ),
        migrations.AddField(
            model_name='thread',
            name='assignee',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='assignee'),
        ),
        migrations.AddField(
            model_name='thread',
            name='status',
            field=models.CharField(choices=[('open', 'open'), ('resolved', 'resolved')], default='open', max_length=10, verbose_name='status'),
        ),
        migrations.AddField(
            model_name='thread',
            name='waiting_since',
            field=models.DateTimeField(blank=True, null=True, verbose_name='waiting since'),
        ),
        migrations.AddIndex(
            model_name='thread',
            index=models.Index(fields=['assignee', 'last_message'], name='thread_assignee_last'),
        ),
        migrations.AddIndex(
            model_name='thread',
            index=models.Index(condition=models.Q(('waiting_since__isnull', False)), fields=['waiting_since', 'user'], name='thread_waiting'),
        ),
        migrations.RunSQL(
            # Portable SQL: one statement on SQLite and PostgreSQL alike.
            """
            UPDATE chat_thread SET waiting_since = (
              SELECT MIN(m.created_at) FROM chat_message m
              WHERE m.thread_id = chat_thread.user_id
                AND m.id > COALESCE((
                  SELECT MAX(a.id) FROM chat_message a
                  WHERE a.thread_id = chat_thread.user_id
                    AND a.sender_id <> chat_thread.user_id), 0))
            WHERE last_message_id IS NOT NULL
            """,
            migrations.RunSQL.noop,
        ),
    ]
