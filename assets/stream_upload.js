// Large files: send the chosen file to the server in chunks, straight to disk, with a progress bar.
//
// The file is cut with Blob.slice and each chunk PUT in turn to <prefix>upload/<id>?offset=N
// (dashboard/streamed_upload.py), so neither the page nor the server ever holds the whole file
// and nothing is base64-encoded. A chunk whose request fails on the network is sent again (the
// server accepts a repeat). Once every byte arrived, the upload's id goes to Dash through the
// store "<X>-done", whose background callback imports the file like any other upload; while it
// runs, "X-cancel" is Dash's (it stops the import), and this script leaves it alone.
//
// Markup (dashboard/pages/data.py): a container with class "txlab-stream-upload", id X and
// data-max-bytes, holding "X-picker" (the file input "X-file" is added there: Dash has no plain
// file input, and dcc.Upload reads the whole file into the page), "X-running" (shown while
// sending), "X-progress" (a dbc.Progress), "X-status", "X-cancel", "X-error" and the store "X-done".
(function () {
    "use strict";
    var MB = 1048576;
    var RETRIES = 3;
    var active = {};  // container id -> {controller, uploadId}

    function base() {
        var prefix = "/";
        try {
            prefix = JSON.parse(document.getElementById("_dash-config").textContent).requests_pathname_prefix || "/";
        } catch (ignored) { /* no config: the app is at the root */ }
        return prefix + "upload";
    }

    // Set props of the component "<key>-<part>" while the container is on the page (dcc.Store has no element).
    function set(key, part, props) {
        if (document.getElementById(key) && window.dash_clientside) { window.dash_clientside.set_props(key + "-" + part, props); }
    }

    function mb(bytes) { return (bytes / MB).toFixed(1) + " MB"; }

    function showError(key, message) {
        set(key, "error", {children: message, style: message ? {} : {display: "none"}});
    }

    function showProgress(key, sent, total, name) {
        var percent = total ? Math.floor(sent * 100 / total) : 0;
        set(key, "progress", {value: percent, label: percent + " %"});
        set(key, "status", {children: "“" + name + "”: " + mb(sent) + " of " + mb(total) + " sent (" + percent + " %)"});
    }

    async function call(method, url, body, signal) {
        var headers = {"X-Txlab-Upload": "1"};
        if (body && !(body instanceof Blob)) {
            headers["Content-Type"] = "application/json";
            body = JSON.stringify(body);
        } else if (body) {
            headers["Content-Type"] = "application/octet-stream";
        }
        var response = await fetch(url, {method: method, body: body, headers: headers, signal: signal, credentials: "same-origin"});
        var data = null;
        try { data = await response.json(); } catch (ignored) { /* not JSON: a login page or a proxy's error */ }
        if (!response.ok || data === null) {
            var error = new Error(data && data.error ? data.error : "The server answered " + response.status + " " + response.statusText +
                (response.redirected ? " (signed out? reload the page)" : "") + ".");
            error.status = response.status || 0;
            throw error;
        }
        return data;
    }

    async function withRetries(send, signal) {
        for (var attempt = 0; ; attempt++) {
            try {
                return await send();
            } catch (error) {
                var transient = error.status === undefined || error.status >= 500;  // the network, or the server hiccuped
                if (signal.aborted || !transient || attempt >= RETRIES) { throw error; }
                await new Promise(function (done) { setTimeout(done, 1000 * (attempt + 1)); });
            }
        }
    }

    async function upload(key, input, file) {
        var container = document.getElementById(key);
        var max = Number(container.getAttribute("data-max-bytes"));
        showError(key, "");
        if (max > 0 && file.size > max) {
            showError(key, "“" + file.name + "” is " + mb(file.size) + ", above the " + Math.round(max / MB) + " MB limit for large files.");
            return;
        }
        if (file.size === 0) {
            showError(key, "“" + file.name + "” is empty.");
            return;
        }
        var controller = new AbortController();
        var state = {controller: controller, uploadId: null};
        active[key] = state;
        input.disabled = true;
        set(key, "running", {style: {}});
        set(key, "cancel", {disabled: false});
        showProgress(key, 0, file.size, file.name);
        var url = base();
        try {
            var started = await call("POST", url + "/start", {name: file.name, size: file.size}, controller.signal);
            state.uploadId = started.id;
            var offset = 0;
            while (offset < file.size) {
                var chunk = file.slice(offset, Math.min(offset + started.chunk_size, file.size));
                var target = url + "/" + started.id + "?offset=" + offset;
                var answer = await withRetries(function () { return call("PUT", target, chunk, controller.signal); }, controller.signal);
                offset = answer.received;
                showProgress(key, offset, file.size, file.name);
            }
            var done = await withRetries(function () { return call("POST", url + "/" + started.id + "/finish", null, controller.signal); }, controller.signal);
            set(key, "status", {children: "“" + done.name + "”: " + mb(done.size) + " received."});
            set(key, "done", {data: {id: done.id, name: done.name, at: Date.now()}});
        } catch (error) {
            if (!controller.signal.aborted) {
                showError(key, "Could not upload “" + file.name + "”: " + error.message);
                set(key, "status", {children: ""});
                discard(url, state.uploadId);
            }
        } finally {
            delete active[key];
            input.disabled = false;
            input.value = "";  // choosing the same file again starts a new upload
            set(key, "cancel", {disabled: true});
        }
    }

    function discard(url, uploadId) {
        if (uploadId) { call("DELETE", url + "/" + uploadId).catch(function () { /* left for the stale clean-up */ }); }
    }

    function cancel(key, why) {
        var state = active[key];
        if (!state) { return; }
        state.controller.abort();
        discard(base(), state.uploadId);
        set(key, "status", {children: why});
        set(key, "progress", {value: 0, label: ""});
    }

    // Add the file input to each container Dash renders; cancel an upload whose page went away.
    function attach() {
        var containers = document.querySelectorAll(".txlab-stream-upload[id]");
        for (var i = 0; i < containers.length; i++) {
            var key = containers[i].id;
            var picker = document.getElementById(key + "-picker");
            if (picker && !document.getElementById(key + "-file")) {
                var input = document.createElement("input");
                input.type = "file";
                input.id = key + "-file";
                input.className = "form-control";
                input.setAttribute("accept", containers[i].getAttribute("data-accept") || "");
                picker.appendChild(input);
            }
        }
        Object.keys(active).forEach(function (key) {
            if (!document.getElementById(key)) { cancel(key, ""); }
        });
    }

    document.addEventListener("change", function (event) {
        var input = event.target;
        var container = input && input.closest ? input.closest(".txlab-stream-upload[id]") : null;
        if (container && input.id === container.id + "-file" && input.files && input.files.length) {
            upload(container.id, input, input.files[0]);
        }
    });

    document.addEventListener("click", function (event) {
        var button = event.target && event.target.closest ? event.target.closest("[id$='-cancel']") : null;
        var key = button ? button.id.slice(0, -"-cancel".length) : null;
        if (key && active[key]) { cancel(key, "Upload cancelled."); }
    });

    window.addEventListener("beforeunload", function (event) {
        if (Object.keys(active).length) { event.preventDefault(); event.returnValue = ""; }
    });

    new MutationObserver(attach).observe(document.documentElement, {childList: true, subtree: true});
    document.addEventListener("DOMContentLoaded", attach);
})();
