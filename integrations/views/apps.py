"""The apps pages: every supported app as its connector declares it, and the pipeline of apps
not supported yet, with votes and requests. Readable logged out; voting needs an account."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from integrations import catalog
from integrations.models import AppVote
from integrations.services.apps import NOTE_MAX, app_request_create, app_vote_create


class AppRequestForm(forms.Form):
    name = forms.CharField(label="App name", max_length=120)
    note = forms.CharField(
        label="What should it sync? (optional)",
        required=False,
        max_length=NOTE_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


def _pipeline(request: HttpRequest) -> list[dict[str, Any]]:
    counts = dict(
        AppVote.objects.values_list("app").annotate(n=Count("id")).values_list("app", "n")
    )
    mine: set[str] = set()
    if request.user.is_authenticated:
        mine = set(AppVote.objects.filter(user_id=request.user.pk).values_list("app", flat=True))
    rows = [
        {"app": app, "votes": counts.get(app.slug, 0), "voted": app.slug in mine}
        for app in catalog.PIPELINE
    ]
    rows.sort(key=lambda row: (-row["votes"], row["app"].name))
    return rows


def _apps_page(request: HttpRequest, form: AppRequestForm, status: int = 200) -> HttpResponse:
    apps = [catalog.app_info(slug) for slug in catalog.supported_slugs()]
    return render(
        request,
        "integrations/apps.html",
        {"apps": apps, "pipeline": _pipeline(request), "request_form": form},
        status=status,
    )


def apps(request: HttpRequest) -> HttpResponse:
    return _apps_page(request, AppRequestForm())


def app_detail(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        info = catalog.app_info(slug)
    except LookupError:
        raise Http404("No such app.") from None
    return render(
        request,
        "integrations/app_detail.html",
        {"info": info, "partners": catalog.partners(info), "pipeline": _pipeline(request)},
    )


@login_required
@require_POST
def app_vote(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        vote = app_vote_create(user=request.user, app=slug)
    except ValidationError as exc:
        for text in exc.messages:
            messages.error(request, text)
    else:
        messages.success(
            request, f"Thanks: your vote for {catalog.PIPELINE_BY_SLUG[vote.app].name} is counted."
        )
    return redirect("integrations:apps")


@login_required
@require_POST
def app_request(request: HttpRequest) -> HttpResponse:
    form = AppRequestForm(request.POST)
    if form.is_valid():
        try:
            created = app_request_create(
                user=request.user,
                name=form.cleaned_data["name"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(request, f"Thanks: we noted your request for {created.name}.")
            return redirect("integrations:apps")
    return _apps_page(request, form)
