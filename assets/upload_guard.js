// dcc.Upload silently drops a file above max_size; say so instead, naming the file and the limit.
// Any upload with id X that has an element "X-limit" (data-max-bytes) and an element "X-error" is guarded.
(function () {
    function check(upload, files) {
        var limit = document.getElementById(upload.id + "-limit");
        if (!limit || !files || !files.length || !window.dash_clientside) { return; }
        var max = Number(limit.getAttribute("data-max-bytes"));
        var file = files[0];
        var message = "";
        if (max > 0 && file.size > max) {
            message = "“" + file.name + "” is " + (file.size / 1048576).toFixed(1) + " MB, above the " +
                Math.round(max / 1048576) + " MB upload limit. Copy it into the server's data folder and load it from there.";
        }
        window.dash_clientside.set_props(upload.id + "-error", {children: message});
    }
    function guarded(target) {
        var node = target && target.closest ? target.closest("[id]") : null;
        while (node && !document.getElementById(node.id + "-limit")) {
            node = node.parentElement ? node.parentElement.closest("[id]") : null;
        }
        return node;
    }
    document.addEventListener("change", function (event) {
        var upload = guarded(event.target);
        if (upload) { check(upload, event.target.files); }
    }, true);
    document.addEventListener("drop", function (event) {
        var upload = guarded(event.target);
        if (upload) { check(upload, event.dataTransfer && event.dataTransfer.files); }
    }, true);
})();
